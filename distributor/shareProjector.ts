import type { SchemaCache } from '../catalog/registry/schemaCache';
import { type GrantedField, Masker, type MaskingKeys } from '../catalog/sharingPolicy';
import type { Subscription } from '../catalog/subscriptions';
import type { IncomingMessage, KafkaHeaders, OutgoingMessage } from '../lib/kafkaPort';
import { encodeWireFormat } from '../schemas/wireFormat';

/** Header names carried from the dataset record onto every share record. */
const PROVENANCE = ['govx-dataset', 'govx-publisher', 'govx-trace-id', 'govx-published-at'] as const;

/** The granted fields of one decoded record, each masked as granted: what a consumer receives (and what a preview shows). */
export function projectValue(masker: Masker, granted: readonly GrantedField[], decoded: Record<string, unknown>): Record<string, unknown> {
  return masker.project(granted, decoded);
}

/**
 * Turns one decoded dataset record into what one subscription may see: keep the granted fields, mask what
 * must be masked, encode with the subscription's derived schema, and pseudonymize the key unless the key
 * field is granted in clear.
 */
export class ShareProjector {
  private readonly maskers = new Map<string, Masker>();

  constructor(
    private readonly schemas: SchemaCache,
    private readonly keys: MaskingKeys,
  ) {}

  private maskerOf(dataset: string): Masker {
    let m = this.maskers.get(dataset);
    if (!m) this.maskers.set(dataset, (m = new Masker(this.keys, dataset)));
    return m;
  }

  async project(
    sub: Subscription,
    keyField: string,
    source: Pick<IncomingMessage, 'key' | 'value' | 'headers'>,
    decoded: Record<string, unknown> | null,
  ): Promise<OutgoingMessage> {
    const masker = this.maskerOf(sub.dataset);
    const granted = sub.fields ?? [];
    const keyGrant = granted.find((g) => g.name === keyField);
    const rawKey = source.key?.toString('utf8') ?? null;
    const key = rawKey === null ? null : keyGrant?.delivery === 'clear' ? rawKey : masker.hash(keyField, rawKey);

    const headers: KafkaHeaders = { 'govx-subscription': sub.id };
    for (const name of PROVENANCE) {
      const v = source.headers?.[name];
      if (v !== undefined) headers[name] = Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
    }
    if (decoded === null) return { key, value: null, headers };

    const projected = projectValue(masker, granted, decoded);
    const derivedId = sub.derivedSchemaId!;
    const { type } = await this.schemas.get(derivedId);
    headers['govx-schema-id'] = String(derivedId);
    return { key, value: encodeWireFormat(derivedId, type.toBuffer(projected)), headers };
  }
}
