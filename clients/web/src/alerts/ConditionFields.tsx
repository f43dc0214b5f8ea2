// The thresholds of each condition kind, as form fields of the rule editor.
import { Group, NumberInput, SegmentedControl, Stack, Text, TextInput } from "@mantine/core";
import type { RuleDraft } from "./rules";

type Set = (patch: Partial<RuleDraft>) => void;

function Dur({
  label,
  description,
  value,
  onChange,
  testId,
}: {
  label: string;
  description?: string;
  value: string;
  onChange(v: string): void;
  testId: string;
}) {
  return (
    <TextInput
      label={label}
      description={description}
      value={value}
      onChange={(e) => onChange(e.currentTarget.value)}
      data-testid={testId}
      w={180}
    />
  );
}

function Num({
  label,
  description,
  value,
  onChange,
  testId,
  step,
}: {
  label: string;
  description?: string;
  value: number | string;
  onChange(v: number | string): void;
  testId: string;
  step?: number;
}) {
  return (
    <NumberInput
      label={label}
      description={description}
      value={value}
      onChange={onChange}
      min={0}
      step={step}
      data-testid={testId}
      w={180}
    />
  );
}

export function ConditionFields({ draft: d, set }: { draft: RuleDraft; set: Set }) {
  switch (d.kind) {
    case "recordingGap":
      return (
        <Group align="flex-start">
          <Dur
            label="Minimum gap"
            description="Empty: only the ratio"
            value={d.minGap}
            onChange={(v) => set({ minGap: v })}
            testId="rule-min-gap"
          />
          <Num
            label="Minimum recorded %"
            description="0: off"
            value={d.minRecordedPercent}
            onChange={(v) => set({ minRecordedPercent: v })}
            testId="rule-min-recorded"
          />
          <Dur
            label="Over the window"
            value={d.gapWindow}
            onChange={(v) => set({ gapWindow: v })}
            testId="rule-gap-window"
          />
        </Group>
      );
    case "recorderCrashLoop":
      return (
        <Group align="flex-start">
          <Num
            label="Restarts"
            value={d.restarts}
            onChange={(v) => set({ restarts: v })}
            testId="rule-restarts"
          />
          <Dur
            label="Within"
            value={d.crashWindow}
            onChange={(v) => set({ crashWindow: v })}
            testId="rule-crash-window"
          />
        </Group>
      );
    case "nodeDisk":
      return (
        <Group align="flex-start">
          <Num
            label="Free under %"
            description="0: off"
            value={d.minFreePercent}
            onChange={(v) => set({ minFreePercent: v })}
            testId="rule-min-free"
            step={1}
          />
          <Num
            label="Full within days"
            description="0: off"
            value={d.minDaysUntilFull}
            onChange={(v) => set({ minDaysUntilFull: v })}
            testId="rule-days-full"
          />
        </Group>
      );
    case "streamQuality":
      return (
        <Group align="flex-start">
          <Num
            label="Frame rate under (fps)"
            description="0: off"
            value={d.minFps}
            onChange={(v) => set({ minFps: v })}
            testId="rule-min-fps"
          />
          <Num
            label="Bitrate under (kbit/s)"
            description="0: off"
            value={d.minBitrateKbps}
            onChange={(v) => set({ minBitrateKbps: v })}
            testId="rule-min-bitrate"
          />
        </Group>
      );
    case "failedLogins":
      return (
        <Group align="flex-start">
          <Num
            label="Failed logins"
            value={d.loginCount}
            onChange={(v) => set({ loginCount: v })}
            testId="rule-login-count"
          />
          <Dur
            label="Within"
            value={d.loginWindow}
            onChange={(v) => set({ loginWindow: v })}
            testId="rule-login-window"
          />
          <Stack gap={2}>
            <Text size="sm" fw={500}>
              Counted per
            </Text>
            <SegmentedControl
              value={d.loginBy}
              onChange={(v) => set({ loginBy: v as RuleDraft["loginBy"] })}
              data={[
                { value: "user", label: "user" },
                { value: "address", label: "address" },
              ]}
            />
          </Stack>
        </Group>
      );
    default:
      return (
        <Text size="sm" c="dimmed">
          No thresholds: the pending period (“for”) says how long it must hold.
        </Text>
      );
  }
}
