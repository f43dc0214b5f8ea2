// Export buttons: a camera-performance or storage report of the page's range, as CSV, XLSX or
// PDF. ExportReport streams the file in chunks; they are joined into one Blob and handed to the
// browser as a download under the name the server chose.
import { useState } from "react";
import { Button, Card, Group, Stack, Text, Title } from "@mantine/core";
import { ReportFormat, ReportKind } from "@camfleet/client/gen/camfleet/v1/analytics_pb.js";
import { ErrorAlert, notifyDone } from "../components/feedback";
import type { AnalyticsClient } from "./client";
import { assembleReport, timeRange, type Range, type ReportChunk } from "./format";

const KINDS = [
  { kind: ReportKind.CAMERA_PERFORMANCE, label: "Camera performance", id: "performance" },
  { kind: ReportKind.STORAGE, label: "Storage", id: "storage" },
];
const FORMATS = [
  { format: ReportFormat.CSV, label: "CSV", id: "csv" },
  { format: ReportFormat.XLSX, label: "XLSX", id: "xlsx" },
  { format: ReportFormat.PDF, label: "PDF", id: "pdf" },
];

function download(bytes: Uint8Array, filename: string, contentType: string) {
  const url = URL.createObjectURL(new Blob([bytes as BlobPart], { type: contentType }));
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  // The download has started from the URL by now; keep it a moment for slow browsers.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

export function ExportButtons({ analytics, range }: { analytics: AnalyticsClient; range: Range }) {
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);

  const run = async (kind: ReportKind, format: ReportFormat, key: string) => {
    setBusy(key);
    setError(null);
    try {
      const chunks: ReportChunk[] = [];
      for await (const c of analytics.exportReport({
        kind,
        format,
        range: timeRange(range),
      }))
        chunks.push({ filename: c.filename, contentType: c.contentType, data: c.data });
      const file = assembleReport(chunks);
      download(file.bytes, file.filename, file.contentType);
      notifyDone(`${file.filename} downloaded.`);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(null);
    }
  };

  return (
    <Card withBorder>
      <Title order={4} mb="sm">
        Reports of this range
      </Title>
      <Stack gap="xs">
        {KINDS.map((k) => (
          <Group key={k.id} gap="xs">
            <Text size="sm" w={170}>
              {k.label}
            </Text>
            {FORMATS.map((f) => {
              const key = `${k.id}-${f.id}`;
              return (
                <Button
                  key={key}
                  size="xs"
                  variant="light"
                  loading={busy === key}
                  disabled={busy !== null && busy !== key}
                  onClick={() => void run(k.kind, f.format, key)}
                  data-testid={`export-${key}`}
                >
                  {f.label}
                </Button>
              );
            })}
          </Group>
        ))}
        <ErrorAlert error={error} testId="export-error" />
      </Stack>
    </Card>
  );
}
