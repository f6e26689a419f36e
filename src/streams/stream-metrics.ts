import { Counter, Gauge, type Registry } from 'prom-client';
import type { StreamWorkerEvent } from './stream-worker.ts';

/**
 * Prometheus metrics of a stream group member, fed by its events (so the
 * runtime stays free of metric code). Labelled by stream, group and
 * partition. The lag against the partition's END is not here: the member
 * only knows what it was delivered; the producer's `/metrics`
 * (stream-lag-metrics.ts), `warren stream status` and `GET /v1/streams`
 * read the end offsets.
 */
export function streamWorkerMetrics(registry: Registry, labels: { stream: string; group: string }): (event: StreamWorkerEvent) => void {
  const registers = [registry];
  const names = ['stream', 'group', 'partition'] as const;
  const records = new Counter({ name: 'warren_stream_records_committed_total', help: 'Records whose batch committed', labelNames: names, registers });
  const committed = new Gauge({ name: 'warren_stream_committed_offset', help: 'Offset of the last record the group applied', labelNames: names, registers });
  const owned = new Gauge({ name: 'warren_stream_partition_owned', help: '1 while this member consumes the partition', labelNames: names, registers });
  const generation = new Gauge({ name: 'warren_stream_partition_generation', help: 'Generation of this member\'s ownership', labelNames: names, registers });
  const fenced = new Counter({ name: 'warren_stream_fenced_total', help: 'Commits refused because the partition moved to another generation', labelNames: names, registers });
  const failed = new Counter({ name: 'warren_stream_batch_failures_total', help: 'Failed batch attempts (retried in place)', labelNames: names, registers });
  const dead = new Counter({ name: 'warren_stream_dead_lettered_total', help: 'Poison records copied to the group\'s DLQ', labelNames: names, registers });
  const lost = new Counter({ name: 'warren_stream_retention_loss_total', help: 'Times records past the committed offset were found removed by retention', labelNames: names, registers });
  return (event) => {
    if (event.kind === 'tick-failed') return;
    const at = { ...labels, partition: String(event.partition) };
    switch (event.kind) {
      case 'committed':
        records.inc(at, event.records);
        committed.set(at, event.offset);
        break;
      case 'assigned':
        owned.set(at, 1);
        generation.set(at, event.generation);
        if (event.committed !== null) committed.set(at, event.committed);
        break;
      case 'revoked':
        owned.set(at, 0);
        break;
      case 'fenced':
        fenced.inc(at);
        owned.set(at, 0);
        break;
      case 'batch-failed':
        failed.inc(at);
        break;
      case 'dead-lettered':
        dead.inc(at);
        break;
      case 'retention-loss':
        lost.inc(at);
        break;
    }
  };
}
