"""Reports of the fleet's figures (AnalyticsService.ExportReport and report schedules): typed
rows (rows.py), one writer per format (CSV, XLSX, PDF with charts), each streaming its rows so a
report of 100,000 cameras is never held whole, and the chunks the gRPC stream sends."""
