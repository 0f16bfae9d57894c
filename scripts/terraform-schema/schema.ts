/**
 * The provider schema as stored in terraform/schema/*.json.gz: the shape of
 * `terraform providers schema -json` (one provider's resource_schemas and data_source_schemas).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';

/** cty type in Terraform's JSON form: "string", ["list", "string"], ["object", {...}]. */
export type TypeExpr = string | [string, TypeExpr] | ['object', Record<string, TypeExpr>];

export interface Attribute {
  type: TypeExpr;
  required?: boolean;
  optional?: boolean;
  computed?: boolean;
}

export interface BlockType {
  nesting_mode: 'single' | 'list' | 'set';
  block: BlockSchema;
  min_items?: number;
  max_items?: number;
}

export interface BlockSchema {
  attributes?: Record<string, Attribute>;
  block_types?: Record<string, BlockType>;
}

export interface ProviderSchemaFile {
  format: string;
  source: string;
  /** registry.terraform.io/hashicorp/google */
  provider: string;
  version: string;
  /** The provider block's own arguments (project, region, ...). */
  provider_schema: { block: BlockSchema };
  resource_schemas: Record<string, { block: BlockSchema }>;
  data_source_schemas: Record<string, { block: BlockSchema }>;
}

export const schemaDir = path.resolve(__dirname, '..', '..', 'terraform', 'schema');

export function schemaFile(provider: string, version: string): string {
  return path.join(schemaDir, `${provider}-${version}.json.gz`);
}

const loaded = new Map<string, ProviderSchemaFile>();

/** The schema file of one provider version (read once per process; callers do not modify it). */
export function loadProviderSchema(provider: string, version: string): ProviderSchemaFile {
  const file = schemaFile(provider, version);
  let schema = loaded.get(file);
  if (!schema) {
    schema = JSON.parse(gunzipSync(readFileSync(file)).toString('utf8')) as ProviderSchemaFile;
    loaded.set(file, schema);
  }
  return schema;
}
