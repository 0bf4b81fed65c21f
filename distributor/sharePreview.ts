import type avro from 'avsc';
import type { Dataset } from '../catalog/datasets';
import { getSubjectVersion } from '../catalog/registry/store';
import { deriveShareSchema, type FieldDelivery, type GrantedField, identifierFieldsOf, Masker, type MaskingKeys, planFields } from '../catalog/sharingPolicy';
import type { Pool } from '../lib/db';
import { GovxError } from '../lib/errors';
import { compileNaturalType } from '../schemas/codec';
import { generateSample, sampleDatasetIds } from '../schemas/samples';
import { projectValue } from './shareProjector';

/**
 * What a grant would deliver, before anyone approves it: the sharing policy's plan for the fields, the derived
 * schema the consumer would read, and a few synthetic records (from the dataset's sample generator, or made
 * from its schema) projected and masked by the distributor's own projection and encoded and decoded with that
 * derived schema, exactly as HTTP delivery hands records out. The records are made up, so a preview shows the
 * shape and the masks of a grant without showing anyone's data.
 */

export interface SharePreview {
  dataset: string;
  consumer: string;
  fields: GrantedField[];
  withheld: string[];
  schema: object;
  records: Array<Record<string, unknown>>;
}

const PREVIEW_RECORDS = 3;

function syntheticRecords(dataset: Dataset, type: avro.Type, count: number): Array<Record<string, unknown>> {
  if (sampleDatasetIds.includes(dataset.id)) return generateSample(dataset.id, count, 20_251_231);
  // Other datasets: values made from the schema, read back as natural JSON the way publishers send it.
  return Array.from({ length: count }, () => type.fromBuffer(type.toBuffer(type.random())) as Record<string, unknown>);
}

export async function previewShare(
  pool: Pool,
  keys: MaskingKeys,
  input: { dataset: Dataset; consumer: string; clearance: number; fields: readonly string[]; tighten?: Readonly<Record<string, FieldDelivery>> },
): Promise<SharePreview> {
  const { dataset } = input;
  const base = await getSubjectVersion(pool, dataset.schemaSubject, 'latest');
  if (!base) throw new GovxError(409, 'dataset.no_schema', `${dataset.id} has no schema registered`);
  const baseSchema = JSON.parse(base.schema) as unknown;
  const plan = planFields(dataset, input.fields, input.clearance, input.tighten ?? {}, identifierFieldsOf(baseSchema));
  const derived = plan.granted.length > 0 ? deriveShareSchema(baseSchema, plan.granted, 'preview') : null;
  let records: Array<Record<string, unknown>> = [];
  if (derived) {
    const derivedType = compileNaturalType(derived);
    const masker = new Masker(keys, dataset.id);
    records = syntheticRecords(dataset, compileNaturalType(baseSchema), PREVIEW_RECORDS).map((record) => {
      const projected = projectValue(masker, plan.granted, record);
      return derivedType.fromBuffer(derivedType.toBuffer(projected)) as Record<string, unknown>;
    });
  }
  return { dataset: dataset.id, consumer: input.consumer, fields: plan.granted, withheld: plan.withheld, schema: derived ?? {}, records };
}
