"""The platform's settings (SettingsService): typed groups, validated, versioned and audited,
applied live. A low floor (above audit only): every domain above reads the settings in force."""
