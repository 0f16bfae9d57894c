/**
 * Checks terraform/*.tf against the Google provider's schema for the version pinned in
 * versions.tf (terraform/schema/<provider>-<version>.json.gz, from extract.ts): every resource,
 * data source, attribute and block exists where it is written, required arguments are present
 * (inside dynamic blocks too), literals have a type the attribute accepts, read-only attributes
 * are not set, and references `type.name.attr` name attributes that exist. Each finding names
 * the file, the line and the nearest valid names. The command also checks the API Gateway
 * documents (scripts/api-gateway/check-openapi.ts).
 *
 *   npm run check:terraform              # terraform/
 *   npx tsx scripts/terraform-schema/check.ts DIR
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { checkGatewayFiles, formatGatewayFinding, gatewayDocuments } from '../api-gateway/check-openapi';
import { parseHcl, type Block, type Body, type Token } from './hcl';
import { loadProviderSchema, schemaFile, type BlockSchema, type TypeExpr } from './schema';

export interface Finding {
  file: string;
  line: number;
  message: string;
}

export function formatFinding(f: Finding): string {
  return `${f.file}:${f.line}: ${f.message}`;
}

/** Levenshtein distance (names are short: the plain table is fine). */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

/** The three valid names nearest to `name` (ties by name), as a clause for a finding. */
export function nearest(name: string, candidates: Iterable<string>): string {
  const ranked = [...new Set(candidates)]
    .map((c) => ({ c, d: editDistance(name, c) - (c.includes(name) || name.includes(c) ? 1 : 0) }))
    .sort((x, y) => x.d - y.d || x.c.localeCompare(y.c))
    .slice(0, 3)
    .map((x) => `"${x.c}"`);
  return ranked.length ? `; nearest: ${ranked.join(', ')}` : '; it takes none';
}

// Terraform's own arguments (developer.hashicorp.com/terraform/language/meta-arguments).
const RESOURCE_META_ATTRIBUTES = new Set(['count', 'for_each', 'provider', 'depends_on']);
const RESOURCE_META_BLOCKS = new Set(['lifecycle', 'provisioner', 'connection']);
const LIFECYCLE: BlockSchema = {
  attributes: {
    create_before_destroy: { type: 'bool', optional: true },
    prevent_destroy: { type: 'bool', optional: true },
    ignore_changes: { type: ['list', 'dynamic'], optional: true },
    replace_triggered_by: { type: ['list', 'dynamic'], optional: true },
  },
  block_types: {
    precondition: { nesting_mode: 'list', block: { attributes: { condition: { type: 'bool', required: true }, error_message: { type: 'string', required: true } } } },
    postcondition: { nesting_mode: 'list', block: { attributes: { condition: { type: 'bool', required: true }, error_message: { type: 'string', required: true } } } },
  },
};
/** Resources of Terraform's built-in provider (terraform.io/builtin/terraform). */
const BUILTIN_RESOURCES: Record<string, BlockSchema> = {
  terraform_data: {
    attributes: {
      id: { type: 'string', computed: true },
      input: { type: 'dynamic', optional: true },
      output: { type: 'dynamic', computed: true },
      triggers_replace: { type: 'dynamic', optional: true },
    },
  },
};

interface Provider {
  name: string;
  version: string;
  resources: Record<string, { block: BlockSchema }>;
  dataSources: Record<string, { block: BlockSchema }>;
  provider: BlockSchema;
}

/** `type.name` of every resource and data source in the module, for reference checks. */
interface Declared {
  kind: 'resource' | 'data';
  type: string;
  schema: BlockSchema | undefined;
  /** With count or for_each: instances are reached by index (`x.y[0]`, `x.y["k"]`, `x.y[*]`). */
  repeated: boolean;
}

/** The resource's schema, where in it a body is, and the same type in the other providers. */
interface Root {
  schema: BlockSchema;
  path: string[];
  others: { name: string; schema: BlockSchema }[];
}

type Literal = 'string' | 'number' | 'bool' | 'null' | 'tuple' | 'object' | undefined;

/** The literal a value is, if it is one (`"x"` without interpolation, `5`, `-1`, `true`, `[..]`, `{..}`). */
function literalKind(value: Token[]): { kind: Literal; text?: string } {
  const [first, ...rest] = value;
  if (!first) return { kind: undefined };
  const last = value.at(-1);
  if (first.kind === 'punct' && first.text === '[' && last?.text === ']' && closesAtEnd(value)) return { kind: 'tuple' };
  if (first.kind === 'punct' && first.text === '{' && last?.text === '}' && closesAtEnd(value)) return { kind: 'object' };
  if (rest.length === 1 && first.text === '-' && rest[0]?.kind === 'number') return { kind: 'number' };
  if (rest.length > 0) return { kind: undefined };
  if ((first.kind === 'string' || first.kind === 'heredoc') && first.literal !== undefined) return { kind: 'string', text: first.literal };
  if (first.kind === 'number') return { kind: 'number' };
  if (first.kind === 'ident' && (first.text === 'true' || first.text === 'false')) return { kind: 'bool' };
  if (first.kind === 'ident' && first.text === 'null') return { kind: 'null' };
  return { kind: undefined };
}

/** Whether the bracket opened by the first token closes at the last (`[a] ++ [b]` does not). */
function closesAtEnd(value: Token[]): boolean {
  let depth = 0;
  for (let i = 0; i < value.length; i++) {
    const t = value[i] as Token;
    if (t.kind !== 'punct') continue;
    if ('([{'.includes(t.text)) depth++;
    if (')]}'.includes(t.text)) depth--;
    if (depth === 0 && i < value.length - 1) return false;
  }
  return true;
}

function typeName(type: TypeExpr): string {
  return typeof type === 'string' ? type : type[0] === 'object' ? 'object' : `${type[0]}(${typeName(type[1] as TypeExpr)})`;
}

/** Why a literal cannot convert to the attribute's type (Terraform's conversions), or undefined. */
function literalMismatch(type: TypeExpr, literal: { kind: Literal; text?: string }): string | undefined {
  const { kind, text } = literal;
  if (kind === undefined || kind === 'null' || type === 'dynamic') return undefined;
  const want = typeof type === 'string' ? type : type[0];
  const ok =
    want === 'string'
      ? kind === 'string' || kind === 'number' || kind === 'bool'
      : want === 'number'
        ? kind === 'number' || (kind === 'string' && text !== undefined && text.trim() !== '' && Number.isFinite(Number(text)))
        : want === 'bool'
          ? kind === 'bool' || (kind === 'string' && (text === 'true' || text === 'false'))
          : want === 'list' || want === 'set'
            ? kind === 'tuple'
            : want === 'map' || want === 'object'
              ? kind === 'object'
              : true;
  return ok ? undefined : `wants ${typeName(type)}, not a ${kind} literal`;
}

/**
 * A literal's mismatch with the type, looking one level into collections: the elements of
 * `[...]` for list(T) / set(T), the values of `{ k = v }` for map(T).
 */
function valueMismatch(type: TypeExpr, value: Token[]): string | undefined {
  const literal = literalKind(value);
  const own = literalMismatch(type, literal);
  if (own || !Array.isArray(type) || type[0] === 'object') return own;
  const element = type[1] as TypeExpr;
  if (literal.kind === 'tuple' && (type[0] === 'list' || type[0] === 'set')) {
    for (const [i, item] of splitTopLevel(value.slice(1, -1)).entries()) {
      const inner = literalMismatch(element, literalKind(item));
      if (inner) return `element ${i + 1}: ${inner}`;
    }
  }
  if (literal.kind === 'object' && type[0] === 'map') {
    for (const entry of splitTopLevel(value.slice(1, -1))) {
      const eq = entry.findIndex((t) => t.kind === 'punct' && (t.text === '=' || t.text === ':'));
      if (eq <= 0) continue;
      const inner = literalMismatch(element, literalKind(entry.slice(eq + 1)));
      if (inner) return `key ${entry.slice(0, eq).map((t) => t.literal ?? t.text).join('')}: ${inner}`;
    }
  }
  return undefined;
}

/** Items of a collection literal's inside, split on commas (and, in objects, newlines) outside brackets. */
function splitTopLevel(tokens: Token[]): Token[][] {
  const items: Token[][] = [[]];
  let depth = 0;
  for (const t of tokens) {
    if (t.kind === 'punct' && '([{'.includes(t.text)) depth++;
    if (t.kind === 'punct' && ')]}'.includes(t.text)) depth--;
    if (depth === 0 && ((t.kind === 'punct' && t.text === ',') || t.kind === 'newline')) items.push([]);
    else if (t.kind !== 'newline') (items.at(-1) as Token[]).push(t);
  }
  return items.filter((item) => item.length > 0);
}

/** Every token of a value, interpolations included. */
function flatten(tokens: Token[]): Token[] {
  return tokens.flatMap((t) => [t, ...(t.inner ? flatten(t.inner) : [])]);
}

/** Where else in a schema a name is valid, as dotted paths (for a block or attribute at the wrong depth). */
function pathsOf(name: string, block: BlockSchema, prefix: string[] = []): string[] {
  const here = name in (block.attributes ?? {}) || name in (block.block_types ?? {}) ? [[...prefix, name].join('.')] : [];
  return [...here, ...Object.entries(block.block_types ?? {}).flatMap(([child, b]) => pathsOf(name, b.block, [...prefix, child]))];
}

export class TerraformSchemaCheck {
  readonly findings: Finding[] = [];
  private readonly providers = new Map<string, Provider>();
  private readonly declared = new Map<string, Declared>();
  /** Named in required_providers but without a usable pin: reported once there, not per resource. */
  private readonly unpinned = new Set<string>();
  private files: { name: string; body: Body }[] = [];

  constructor(private readonly dir: string) {}

  run(): Finding[] {
    this.files = readdirSync(this.dir)
      .filter((f) => f.endsWith('.tf'))
      .sort()
      .flatMap((name) => {
        try {
          return [{ name, body: parseHcl(name, readFileSync(path.join(this.dir, name), 'utf8')) }];
        } catch (err) {
          const e = err as { line?: number; message: string };
          this.report(name, e.line ?? 1, `not valid HCL: ${e.message}`);
          return [];
        }
      });
    this.loadPinnedProviders();
    for (const { name, body } of this.files) {
      for (const block of body.blocks) {
        if ((block.type === 'resource' || block.type === 'data') && block.labels.length === 2) {
          const [type, label] = block.labels as [string, string];
          const key = block.type === 'data' ? `data.${type}.${label}` : `${type}.${label}`;
          const repeated = block.body.attributes.some((a) => a.name === 'count' || a.name === 'for_each');
          this.declared.set(key, { kind: block.type, type, schema: this.schemaOf(name, block, false), repeated });
        }
      }
    }
    for (const { name, body } of this.files) this.checkFile(name, body);
    return this.findings.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line);
  }

  private report(file: string, line: number, message: string): void {
    this.findings.push({ file: path.join(path.basename(this.dir), file), line, message });
  }

  /** The pinned versions of required_providers: exact versions whose schema file is in the repo. */
  private loadPinnedProviders(): void {
    for (const { name, body } of this.files) {
      for (const terraform of body.blocks.filter((b) => b.type === 'terraform')) {
        for (const required of terraform.body.blocks.filter((b) => b.type === 'required_providers')) {
          for (const attr of required.body.attributes) {
            const object = attr.value;
            const versionAt = object.findIndex((t) => t.kind === 'ident' && t.text === 'version');
            const versionToken = versionAt >= 0 ? object[versionAt + 2] : undefined;
            const version = versionToken?.literal?.replace(/^=\s*/, '').trim();
            if (!version || !/^\d+\.\d+\.\d+$/.test(version)) {
              this.unpinned.add(attr.name);
              this.report(name, versionToken?.line ?? attr.line, `provider ${attr.name}: version must be pinned exactly (e.g. "6.50.0") to the schema the check was built from, not ${JSON.stringify(versionToken?.literal ?? '(none)')}`);
              continue;
            }
            if (!existsSync(schemaFile(attr.name, version))) {
              this.unpinned.add(attr.name);
              this.report(name, versionToken?.line ?? attr.line, `provider ${attr.name} ${version}: no schema file ${path.relative(process.cwd(), schemaFile(attr.name, version))}; regenerate it (docs/deploying.md, The schema check)`);
              continue;
            }
            const schema = loadProviderSchema(attr.name, version);
            this.providers.set(attr.name, { name: attr.name, version, resources: schema.resource_schemas, dataSources: schema.data_source_schemas, provider: schema.provider_schema.block });
          }
        }
      }
    }
  }

  /** The provider a resource belongs to: its `provider =` meta-argument, else its type's prefix. */
  private providerOf(block: Block): string {
    const meta = block.body.attributes.find((a) => a.name === 'provider');
    if (meta) return meta.value.map((t) => t.text).join('').split('.')[0] ?? '';
    return (block.labels[0] ?? '').split('_')[0] ?? '';
  }

  private schemaOf(file: string, block: Block, reportMissing: boolean): BlockSchema | undefined {
    const [type = ''] = block.labels;
    const data = block.type === 'data';
    if (!data && BUILTIN_RESOURCES[type]) return BUILTIN_RESOURCES[type];
    const providerName = this.providerOf(block);
    const provider = this.providers.get(providerName);
    if (!provider) {
      if (reportMissing && !this.unpinned.has(providerName)) this.report(file, block.line, `${type}: provider "${providerName}" is not in required_providers with a pinned version`);
      return undefined;
    }
    const table = data ? provider.dataSources : provider.resources;
    const found = table[type];
    if (found) return found.block;
    if (reportMissing) {
      const elsewhere = [...this.providers.values()].find((p) => (data ? p.dataSources : p.resources)[type]);
      const hint = elsewhere ? `; it exists in ${elsewhere.name}: add provider = ${elsewhere.name}` : nearest(type, Object.keys(table));
      this.report(file, block.line, `unknown ${data ? 'data source' : 'resource'} type "${type}" in ${provider.name} ${provider.version}${hint}`);
    }
    return undefined;
  }

  private checkFile(file: string, body: Body): void {
    for (const block of body.blocks) {
      if (block.type === 'resource' || block.type === 'data') {
        const where = `${block.type === 'data' ? 'data.' : ''}${block.labels.join('.')}`;
        const schema = this.schemaOf(file, block, true);
        if (schema) this.checkBody(file, block.body, schema, where, true, { schema, path: [], others: this.otherProviders(block) }, block.line);
      } else if (block.type === 'provider') {
        const provider = this.providers.get(block.labels[0] ?? '');
        // Only the provider's attributes are described (its nested settings are not extracted).
        if (provider) {
          for (const attr of block.body.attributes) {
            if (attr.name === 'alias') continue;
            const a = provider.provider.attributes?.[attr.name];
            if (!a) this.report(file, attr.line, `provider "${provider.name}": unknown argument "${attr.name}"${nearest(attr.name, Object.keys(provider.provider.attributes ?? {}))}`);
          }
        }
      }
      this.checkReferences(file, block.body);
    }
  }

  /** The same resource type in the other pinned providers (google-beta has arguments google lacks). */
  private otherProviders(block: Block): { name: string; schema: BlockSchema }[] {
    const [type = ''] = block.labels;
    const own = this.providerOf(block);
    return [...this.providers.values()]
      .filter((p) => p.name !== own)
      .flatMap((p) => {
        const found = (block.type === 'data' ? p.dataSources : p.resources)[type];
        return found ? [{ name: p.name, schema: found.block }] : [];
      });
  }

  private checkBody(file: string, body: Body, schema: BlockSchema, where: string, top: boolean, root: Root, line?: number): void {
    const attributes = schema.attributes ?? {};
    const blockTypes = schema.block_types ?? {};
    // What may be written here: read-only (computed) attributes are not suggested.
    const settable = Object.entries(attributes).filter(([, a]) => a.optional || a.required).map(([name]) => name);
    const validNames = [...settable, ...Object.keys(blockTypes), ...(top ? [...RESOURCE_META_ATTRIBUTES, ...RESOURCE_META_BLOCKS] : [])];
    const present = new Set<string>();

    for (const attr of body.attributes) {
      present.add(attr.name);
      if (top && RESOURCE_META_ATTRIBUTES.has(attr.name)) continue;
      const a = attributes[attr.name];
      if (!a) {
        if (blockTypes[attr.name]) this.report(file, attr.line, `${where}: "${attr.name}" is a block: write ${attr.name} { ... }, not ${attr.name} = ...`);
        else this.unknown(file, attr.line, where, 'argument', attr.name, validNames, root);
        continue;
      }
      if (!a.optional && !a.required) {
        this.report(file, attr.line, `${where}: "${attr.name}" is read-only (computed by the provider) and cannot be set`);
        continue;
      }
      const mismatch = valueMismatch(a.type, attr.value);
      if (mismatch) this.report(file, attr.line, `${where}.${attr.name}: ${mismatch}`);
    }

    const counts = new Map<string, { n: number; dynamic: boolean; line: number }>();
    for (const block of body.blocks) {
      if (top && RESOURCE_META_BLOCKS.has(block.type)) {
        if (block.type === 'lifecycle') this.checkBody(file, block.body, LIFECYCLE, `${where}.lifecycle`, false, { schema: LIFECYCLE, path: [], others: [] });
        continue;
      }
      let name = block.type;
      let content = block.body;
      let dynamic = false;
      if (block.type === 'dynamic') {
        // dynamic "name" { for_each = ..., iterator = ..., content { ... } }: content is the block.
        dynamic = true;
        name = block.labels[0] ?? '';
        const contents = block.body.blocks.filter((b) => b.type === 'content');
        if (!block.body.attributes.some((a) => a.name === 'for_each')) this.report(file, block.line, `${where}: dynamic "${name}" has no for_each`);
        if (contents.length !== 1) {
          this.report(file, block.line, `${where}: dynamic "${name}" needs exactly one content block`);
          continue;
        }
        content = (contents[0] as Block).body;
      }
      present.add(name);
      const b = blockTypes[name];
      if (!b) {
        if (attributes[name]) this.report(file, block.line, `${where}: "${name}" is an argument: write ${name} = ..., not a block`);
        else this.unknown(file, block.line, where, 'block', name, validNames, root);
        continue;
      }
      const count = counts.get(name) ?? { n: 0, dynamic: false, line: block.line };
      count.n++;
      count.dynamic ||= dynamic;
      counts.set(name, count);
      this.checkBody(file, content, b.block, `${where}.${name}`, false, { ...root, path: [...root.path, name] }, block.line);
    }
    for (const [name, { n, dynamic, line: at }] of counts) {
      const max = blockTypes[name]?.nesting_mode === 'single' ? 1 : blockTypes[name]?.max_items;
      if (max !== undefined && !dynamic && n > max) this.report(file, at, `${where}: at most ${max} "${name}" block${max === 1 ? '' : 's'}, found ${n}`);
    }

    const blockLine = line ?? body.attributes[0]?.line ?? body.blocks[0]?.line ?? 0;
    for (const [name, a] of Object.entries(attributes)) {
      if (a.required && !present.has(name)) this.report(file, blockLine, `${where}: required argument "${name}" is missing`);
    }
    for (const [name, b] of Object.entries(blockTypes)) {
      if ((b.min_items ?? 0) > 0 && !present.has(name)) this.report(file, blockLine, `${where}: required block "${name}" is missing`);
    }
  }

  private unknown(file: string, line: number, where: string, what: string, name: string, valid: string[], root: Root): void {
    const other = root.others.find((o) => {
      const at = root.path.reduce<BlockSchema | undefined>((b, step) => b?.block_types?.[step]?.block, o.schema);
      return at && (name in (at.attributes ?? {}) || name in (at.block_types ?? {}));
    });
    const elsewhere = pathsOf(name, root.schema);
    const hint = other
      ? `; it exists only in ${other.name}: add provider = ${other.name} to the resource`
      : elsewhere.length
        ? `; valid at ${elsewhere.slice(0, 3).join(', ')}`
        : nearest(name, valid);
    this.report(file, line, `${where}: unknown ${what} "${name}"${hint}`);
  }

  /** `type.name[...].attr[...].sub` and `data.type.name.attr` in every expression of a body. */
  private checkReferences(file: string, body: Body): void {
    const values = [...body.attributes.map((a) => a.value), ...body.blocks.flatMap((b) => collectValues(b.body))];
    for (const value of values) {
      const tokens = flatten(value).filter((t) => t.kind !== 'string' && t.kind !== 'heredoc');
      for (let i = 0; i < tokens.length; i++) {
        const t = tokens[i] as Token;
        if (t.kind !== 'ident') continue;
        const before = tokens[i - 1];
        if (before?.kind === 'punct' && (before.text === '.' || before.text === ':')) continue;
        const { parts, indexed } = referenceParts(tokens, i);
        const isData = t.text === 'data';
        const [type, name, attr, sub] = isData ? parts.slice(1) : parts;
        const nameIndexed = indexed.has(isData ? 2 : 1);
        if (!type || !name || (!isData && !this.looksLikeResource(type))) continue;
        const key = `${isData ? 'data.' : ''}${type}.${name}`;
        const declared = this.declared.get(key);
        if (!declared) {
          const candidates = [...this.declared.keys()].filter((k) => k.startsWith(isData ? `data.${type}.` : `${type}.`));
          this.report(file, t.line, `reference to ${key}, which is not declared${nearest(key, candidates.length ? candidates : this.declared.keys())}`);
          continue;
        }
        if (attr && declared.repeated && !nameIndexed) {
          this.report(file, t.line, `${key}.${attr}: ${key} has count or for_each: name an instance (${key}[0].${attr}, ${key}["key"].${attr}) or all of them (${key}[*].${attr})`);
          continue;
        }
        if (nameIndexed && !declared.repeated) {
          this.report(file, t.line, `${key}[...]: ${key} has neither count nor for_each, so it has no instances to index`);
          continue;
        }
        if (!attr || !declared.schema) continue;
        const schema = declared.schema;
        const names = [...Object.keys(schema.attributes ?? {}), ...Object.keys(schema.block_types ?? {})];
        if (!names.includes(attr)) {
          this.report(file, t.line, `${key}.${attr}: ${declared.type} has no attribute "${attr}"${nearest(attr, names)}`);
          continue;
        }
        const nested = schema.block_types?.[attr]?.block;
        if (sub && nested) {
          const subNames = [...Object.keys(nested.attributes ?? {}), ...Object.keys(nested.block_types ?? {})];
          if (!subNames.includes(sub)) this.report(file, t.line, `${key}.${attr}[...].${sub}: block "${attr}" has no attribute "${sub}"${nearest(sub, subNames)}`);
        }
      }
    }
  }

  private looksLikeResource(type: string): boolean {
    if (BUILTIN_RESOURCES[type]) return true;
    return [...this.providers.keys()].some((p) => type.startsWith(`${p.split('-')[0]}_`));
  }
}

function collectValues(body: Body): Token[][] {
  return [...body.attributes.map((a) => a.value), ...body.blocks.flatMap((b) => collectValues(b.body))];
}

/** The names of a traversal `a.b[0].c["k"].d` from token i, and which of them an index follows. */
function referenceParts(tokens: Token[], i: number): { parts: string[]; indexed: Set<number> } {
  const parts = [(tokens[i] as Token).text];
  const indexed = new Set<number>();
  let j = i + 1;
  for (;;) {
    const t = tokens[j];
    if (t?.kind === 'punct' && t.text === '.' && tokens[j + 1]?.kind === 'ident') {
      parts.push((tokens[j + 1] as Token).text);
      j += 2;
    } else if (t?.kind === 'punct' && t.text === '.' && tokens[j + 1]?.kind === 'number') {
      indexed.add(parts.length - 1);
      j += 2; // legacy index: a.0.b
    } else if (t?.kind === 'punct' && t.text === '[') {
      indexed.add(parts.length - 1);
      let depth = 0;
      for (; j < tokens.length; j++) {
        const u = tokens[j] as Token;
        if (u.kind === 'punct' && u.text === '[') depth++;
        if (u.kind === 'punct' && u.text === ']' && --depth === 0) break;
      }
      j++;
      if (!(tokens[j]?.kind === 'punct' && tokens[j]?.text === '.') && !(tokens[j]?.kind === 'punct' && tokens[j]?.text === '[')) break;
    } else {
      break;
    }
  }
  return { parts, indexed };
}

export function checkTerraform(dir: string): Finding[] {
  return new TerraformSchemaCheck(dir).run();
}

/** The .tf files against the provider schema, then the API Gateway documents beside them. */
async function main(): Promise<void> {
  const dir = path.resolve(process.argv[2] ?? path.join(__dirname, '..', '..', 'terraform'));
  const findings = checkTerraform(dir);
  for (const f of findings) process.stderr.write(`${formatFinding(f)}\n`);
  const files = readdirSync(dir).filter((f) => f.endsWith('.tf')).length;
  const where = path.relative(process.cwd(), dir) || '.';
  process.stdout.write(`${findings.length ? `${findings.length} finding(s)` : 'no findings'} in ${files} .tf files of ${where}\n`);
  let gateway = 0;
  if (gatewayDocuments.every((f) => existsSync(path.join(dir, f)))) {
    for (const { file, findings: found } of await checkGatewayFiles(dir)) {
      for (const f of found) process.stderr.write(`${formatGatewayFinding(path.join(where, file), f)}\n`);
      gateway += found.length;
    }
    process.stdout.write(`${gateway ? `${gateway} finding(s)` : 'no findings'} in the API Gateway documents (${gatewayDocuments.join(', ')})\n`);
  }
  process.exitCode = findings.length + gateway ? 1 : 0;
}

if (require.main === module) void main();
