// The range a page reports on: the last 24 hours, 7 or 30 days (ending when chosen, or when
// Refresh is pressed), or a custom start and end in the browser's time zone.
import { useState } from "react";
import { Button, Group, SegmentedControl, Text, TextInput } from "@mantine/core";
import {
  customRangeProblem,
  presetRange,
  RANGE_PRESETS,
  type Range,
  type RangePreset,
} from "./format";

// <input type="datetime-local"> speaks local time as "YYYY-MM-DDTHH:mm".
function toLocalInput(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function fromLocalInput(s: string): Date | null {
  if (!s) return null;
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? null : d;
}

export function RangePicker({
  value,
  onChange,
  presets = RANGE_PRESETS,
}: {
  value: Range;
  onChange(range: Range): void;
  presets?: { value: RangePreset; label: string }[];
}) {
  const [preset, setPreset] = useState<RangePreset>(presets[0].value);
  const [start, setStart] = useState(toLocalInput(value.start));
  const [end, setEnd] = useState(toLocalInput(value.end));
  const problem =
    preset === "custom" ? customRangeProblem(fromLocalInput(start), fromLocalInput(end)) : null;

  const choose = (p: RangePreset) => {
    setPreset(p);
    if (p !== "custom") onChange(presetRange(p, Date.now()));
    else {
      setStart(toLocalInput(value.start));
      setEnd(toLocalInput(value.end));
    }
  };
  const applyCustom = () => {
    const s = fromLocalInput(start);
    const e = fromLocalInput(end);
    if (s && e && !customRangeProblem(s, e)) onChange({ start: s, end: e });
  };

  return (
    <Group align="flex-end" gap="sm" data-testid="range-picker">
      <SegmentedControl
        value={preset}
        onChange={(v) => choose(v as RangePreset)}
        data={presets}
        data-testid="range-preset"
      />
      {preset === "custom" ? (
        <>
          <TextInput
            type="datetime-local"
            label="From"
            value={start}
            onChange={(e) => setStart(e.currentTarget.value)}
            data-testid="range-start"
          />
          <TextInput
            type="datetime-local"
            label="To"
            value={end}
            onChange={(e) => setEnd(e.currentTarget.value)}
            data-testid="range-end"
          />
          <Button onClick={applyCustom} disabled={!!problem} data-testid="range-apply">
            Show
          </Button>
          {problem && (
            <Text c="red" size="sm" data-testid="range-problem">
              {problem}
            </Text>
          )}
        </>
      ) : (
        <Button
          variant="default"
          onClick={() => onChange(presetRange(preset, Date.now()))}
          data-testid="range-refresh"
        >
          Refresh
        </Button>
      )}
    </Group>
  );
}
