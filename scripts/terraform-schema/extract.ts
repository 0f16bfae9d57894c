/**
 * Regenerates terraform/schema/<provider>-<version>.json.gz: the Google provider's schema
 * (every resource and data source: attributes with their type and required / optional /
 * computed, nested blocks with nesting mode and min/max items, recursively), in the shape of
 * `terraform providers schema -json`, so the check can later read a real export unchanged.
 *
 * Source: the CDKTF prebuilt bindings, generated from the provider's schema. The packages ship
 * no schema JSON, but each binding's source map carries its generated TypeScript, in which the
 * generator wrote the schema member by member. That TypeScript is read with the TypeScript
 * compiler API:
 * - `// <name> - computed: <b>, optional: <b>, required: <b>` before each member (the generator's
 *   own words for the schema's flags), then the member's getter (`getStringAttribute('x')`, ...)
 *   or its nested object (`new XOutputReference(...)`: at most one; `new XList(..., wrapsSet)`);
 * - `synthesizeHclAttributes()` / `xToHclTerraform()`: which members are blocks and whether a
 *   block or collection is a list, a set or a map.
 *
 *   npx tsx scripts/terraform-schema/extract.ts            # both providers, packed from npm
 *   npx tsx scripts/terraform-schema/extract.ts --from DIR # an unpacked package (DIR/lib/...)
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import ts from 'typescript';
import { schemaDir, schemaFile, type Attribute, type BlockSchema, type BlockType, type ProviderSchemaFile, type TypeExpr } from './schema';

/** The bindings each provider's schema comes from (16.12.1: generated from 6.50.0). */
export const SOURCES = [
  { provider: 'google', package: '@cdktf/provider-google', packageVersion: '16.12.1' },
  { provider: 'google-beta', package: '@cdktf/provider-google-beta', packageVersion: '16.12.1' },
] as const;

const SCHEMA_COMMENT = /^\/\/ (\w+) - computed: (true|false), optional: (true|false), required: (true|false)$/;

const GETTER_TYPES: Record<string, TypeExpr> = {
  getStringAttribute: 'string',
  getNumberAttribute: 'number',
  getBooleanAttribute: 'bool',
  getListAttribute: ['list', 'string'],
  getNumberListAttribute: ['list', 'number'],
  getStringMapAttribute: ['map', 'string'],
  getNumberMapAttribute: ['map', 'number'],
  getBooleanMapAttribute: ['map', 'bool'],
  getAnyMapAttribute: ['map', 'dynamic'],
  interpolationForAttribute: 'dynamic',
};

/** cdktf's own classes for computed maps. */
const CDKTF_COLLECTIONS: Record<string, TypeExpr> = {
  'cdktf.StringMap': ['map', 'string'],
  'cdktf.StringMapList': ['list', ['map', 'string']],
};

interface Nested {
  decl: ts.ClassDeclaration;
  single: boolean;
  set: boolean;
  map: boolean;
}

interface HclEntry {
  isBlock: boolean;
  /** simple | list | set | map | struct */
  type: string;
}

/** The generated TypeScript of one binding (from its source map's sourcesContent). */
function generatedSource(jsFile: string): string {
  const js = readFileSync(jsFile, 'utf8');
  const marker = 'sourceMappingURL=data:application/json;base64,';
  const at = js.lastIndexOf(marker);
  if (at < 0) throw new Error(`${jsFile}: no inline source map`);
  const map = JSON.parse(Buffer.from(js.slice(at + marker.length).trim(), 'base64').toString('utf8')) as { sourcesContent?: string[] };
  const source = map.sourcesContent?.[0];
  if (!source) throw new Error(`${jsFile}: the source map has no sourcesContent`);
  return source;
}

class Binding {
  private readonly classes = new Map<string, ts.ClassDeclaration>();
  /** Struct or OutputReference class name -> its `xToHclTerraform` function. */
  private readonly hclFunctions = new Map<string, ts.FunctionDeclaration>();

  constructor(private readonly file: string, sources: ts.SourceFile[]) {
    for (const stmt of sources.flatMap((sf) => [...sf.statements])) {
      if (ts.isClassDeclaration(stmt) && stmt.name) this.classes.set(stmt.name.text, stmt);
      if (ts.isFunctionDeclaration(stmt) && stmt.name?.text.endsWith('ToHclTerraform')) {
        const param = stmt.parameters[0]?.type;
        const names = param && ts.isUnionTypeNode(param) ? param.types : param ? [param] : [];
        for (const t of names) if (ts.isTypeReferenceNode(t) && ts.isIdentifier(t.typeName)) this.hclFunctions.set(t.typeName.text, stmt);
      }
    }
  }

  /** The resource or data source class: `static readonly tfResourceType = "google_..."`. */
  mainClass(): { type: string; kind: 'resource' | 'data' | 'provider'; decl: ts.ClassDeclaration } | undefined {
    for (const decl of this.classes.values()) {
      const base = decl.heritageClauses?.[0]?.types[0]?.expression.getText();
      const kind = base === 'cdktf.TerraformResource' ? 'resource' : base === 'cdktf.TerraformDataSource' ? 'data' : base === 'cdktf.TerraformProvider' ? 'provider' : undefined;
      if (!kind) continue;
      for (const m of decl.members) {
        if (ts.isPropertyDeclaration(m) && m.name.getText() === 'tfResourceType' && m.initializer && ts.isStringLiteral(m.initializer)) {
          return { type: m.initializer.text, kind, decl };
        }
      }
    }
    return undefined;
  }

  /** `attrs` of synthesizeHclAttributes() or of an xToHclTerraform function. */
  private hclEntries(body: ts.Block | undefined): Map<string, HclEntry> {
    const entries = new Map<string, HclEntry>();
    const visit = (node: ts.Node): void => {
      if (ts.isVariableDeclaration(node) && node.name.getText() === 'attrs' && node.initializer && ts.isObjectLiteralExpression(node.initializer)) {
        for (const prop of node.initializer.properties) {
          if (!ts.isPropertyAssignment(prop) || !ts.isObjectLiteralExpression(prop.initializer)) continue;
          const fields = new Map(prop.initializer.properties.filter(ts.isPropertyAssignment).map((p) => [p.name.getText(), p.initializer]));
          const isBlock = fields.get('isBlock')?.kind === ts.SyntaxKind.TrueKeyword;
          const type = fields.get('type');
          entries.set(propertyName(prop.name), { isBlock, type: type && ts.isStringLiteral(type) ? type.text : 'simple' });
        }
        return;
      }
      ts.forEachChild(node, visit);
    };
    if (body) visit(body);
    return entries;
  }

  private hclEntriesOfClass(decl: ts.ClassDeclaration, isMain: boolean): Map<string, HclEntry> {
    if (isMain) {
      const method = decl.members.find((m): m is ts.MethodDeclaration => ts.isMethodDeclaration(m) && m.name.getText() === 'synthesizeHclAttributes');
      return this.hclEntries(method?.body);
    }
    // Keyed by the parameter's types: `XOutputReference | X` (one block) or `X | IResolvable` (an item).
    const name = decl.name?.text ?? '';
    const fn = this.hclFunctions.get(name) ?? this.hclFunctions.get(name.replace(/OutputReference$/, ''));
    if (fn) return this.hclEntries(fn.body);
    // A read-only object (every member computed) needs none: nothing in it is written.
    const settable = decl.members.some((m) => {
      const flags = this.schemaComment(m);
      return flags && (flags.optional || flags.required);
    });
    if (settable) throw new Error(`${this.file}: no ToHclTerraform function for ${name}`);
    return new Map();
  }

  /** The schema of the object a class describes (the resource itself or one nested block). */
  describe(decl: ts.ClassDeclaration, isMain: boolean, depth = 0): BlockSchema {
    if (depth > 24) throw new Error(`${this.file}: nesting deeper than 24 at ${decl.name?.text}`);
    const hcl = this.hclEntriesOfClass(decl, isMain);
    const attributes: Record<string, Attribute> = {};
    const blockTypes: Record<string, BlockType> = {};
    const members = decl.members;
    const fields = new Map<string, ts.PropertyDeclaration>();
    for (const m of members) if (ts.isPropertyDeclaration(m)) fields.set(m.name.getText(), m);

    members.forEach((member, index) => {
      const flags = this.schemaComment(member);
      if (!flags) return;
      const { name, computed, optional, required } = flags;
      const getter = members.slice(index).find((m): m is ts.GetAccessorDeclaration => ts.isGetAccessorDeclaration(m));
      if (!getter) throw new Error(`${this.file}: ${name} has no getter`);
      const found = this.nestedOf(getter, fields);
      const nested = found && 'decl' in found ? found : undefined;
      const entry = hcl.get(name);
      if (nested && entry?.isBlock) {
        const child = this.describe(nested.decl, false, depth + 1);
        const blockType: BlockType = { nesting_mode: nested.single ? (entry.type === 'struct' ? 'single' : 'list') : nested.set ? 'set' : 'list', block: child };
        if (required) blockType.min_items = 1;
        if (nested.single && blockType.nesting_mode !== 'single') blockType.max_items = 1;
        blockTypes[name] = blockType;
        return;
      }
      let type: TypeExpr | undefined;
      if (isMain && this.isProvider(decl)) {
        // The provider class returns its private fields: their declared TypeScript type says it.
        type = this.fieldType(fields, getter);
        if (!type) return; // a nested provider setting (batching, ...): not described
      } else if (found && 'type' in found) {
        type = found.type;
      } else if (nested) {
        const object: TypeExpr = ['object', objectTypes(this.describe(nested.decl, false, depth + 1))];
        type = nested.single ? object : [nested.map ? 'map' : nested.set ? 'set' : 'list', object];
      } else {
        type = this.primitiveOf(getter, name);
        if (Array.isArray(type) && type[0] === 'list' && entry?.type === 'set') type = ['set', type[1]];
      }
      const attribute: Attribute = { type };
      if (required) attribute.required = true;
      if (optional) attribute.optional = true;
      if (computed) attribute.computed = true;
      attributes[name] = attribute;
    });
    return Object.keys(blockTypes).length ? { attributes, block_types: blockTypes } : { attributes };
  }

  private isProvider(decl: ts.ClassDeclaration): boolean {
    return decl.heritageClauses?.[0]?.types[0]?.expression.getText() === 'cdktf.TerraformProvider';
  }

  private fieldType(fields: Map<string, ts.PropertyDeclaration>, getter: ts.GetAccessorDeclaration): TypeExpr | undefined {
    const ret = getter.body?.statements.find(ts.isReturnStatement)?.expression;
    if (!ret || !ts.isPropertyAccessExpression(ret)) return undefined;
    const text = fields.get(ret.name.text)?.type?.getText().replace(/\s+/g, ' ');
    const types: Record<string, TypeExpr> = {
      string: 'string',
      number: 'number',
      'boolean | cdktf.IResolvable': 'bool',
      'string[]': ['list', 'string'],
      '{ [key: string]: string }': ['map', 'string'],
    };
    return text ? types[text] : undefined;
  }

  private schemaComment(member: ts.ClassElement): { name: string; computed: boolean; optional: boolean; required: boolean } | undefined {
    const text = member.getSourceFile().getFullText();
    for (const range of ts.getLeadingCommentRanges(text, member.getFullStart()) ?? []) {
      const match = SCHEMA_COMMENT.exec(text.slice(range.pos, range.end).trim());
      if (match?.[1]) return { name: match[1], computed: match[2] === 'true', optional: match[3] === 'true', required: match[4] === 'true' };
    }
    return undefined;
  }

  /** `return this._x` where `_x = new XOutputReference | XList | XMap (...)`: the nested class. */
  private nestedOf(getter: ts.GetAccessorDeclaration, fields: Map<string, ts.PropertyDeclaration>): Nested | { type: TypeExpr } | undefined {
    const ret = getter.body?.statements.find(ts.isReturnStatement)?.expression;
    if (!ret || !ts.isPropertyAccessExpression(ret) || ret.expression.kind !== ts.SyntaxKind.ThisKeyword) return undefined;
    const init = fields.get(ret.name.text)?.initializer;
    if (!init || !ts.isNewExpression(init)) return undefined;
    const className = init.expression.getText();
    const builtin = CDKTF_COLLECTIONS[className];
    if (builtin) return { type: builtin };
    const cls = this.classes.get(className);
    if (!cls) throw new Error(`${this.file}: class ${className} not found`);
    if (className.endsWith('OutputReference')) return { decl: cls, single: true, set: false, map: false };
    const wrapsSet = init.arguments?.[2]?.kind === ts.SyntaxKind.TrueKeyword;
    const item = this.itemClass(cls);
    return { decl: item, single: false, set: wrapsSet, map: className.endsWith('Map') };
  }

  /** The OutputReference class a List or Map class hands out from get(). */
  private itemClass(cls: ts.ClassDeclaration): ts.ClassDeclaration {
    const get = cls.members.find((m): m is ts.MethodDeclaration => ts.isMethodDeclaration(m) && m.name.getText() === 'get');
    const ret = get?.body?.statements.find(ts.isReturnStatement)?.expression;
    if (!ret || !ts.isNewExpression(ret)) throw new Error(`${this.file}: ${cls.name?.text}.get() returns no new object`);
    const item = this.classes.get(ret.expression.getText());
    if (!item) throw new Error(`${this.file}: ${ret.expression.getText()} not found`);
    return item;
  }

  private primitiveOf(getter: ts.GetAccessorDeclaration, name: string): TypeExpr {
    let ret = getter.body?.statements.find(ts.isReturnStatement)?.expression;
    // Sets are read as `cdktf.Fn.tolist(this.getListAttribute('x'))`.
    let set = false;
    if (ret && ts.isCallExpression(ret) && ret.expression.getText() === 'cdktf.Fn.tolist' && ret.arguments[0]) {
      set = true;
      ret = ret.arguments[0];
    }
    if (ret && ts.isCallExpression(ret) && ts.isPropertyAccessExpression(ret.expression)) {
      const type = GETTER_TYPES[ret.expression.name.text];
      if (type) return set && Array.isArray(type) ? ['set', type[1] as TypeExpr] : type;
    }
    throw new Error(`${this.file}: ${name}: unknown getter ${ret?.getText() ?? '(none)'}`);
  }
}

function propertyName(name: ts.PropertyName): string {
  return ts.isStringLiteral(name) || ts.isIdentifier(name) ? name.text : name.getText();
}

/** A nested object written as an attribute (not a block): its fields as an object type. */
function objectTypes(block: BlockSchema): Record<string, TypeExpr> {
  const out: Record<string, TypeExpr> = {};
  for (const [name, a] of Object.entries(block.attributes ?? {})) out[name] = a.type;
  for (const [name, b] of Object.entries(block.block_types ?? {})) {
    const object: TypeExpr = ['object', objectTypes(b.block)];
    out[name] = b.nesting_mode === 'single' ? object : [b.nesting_mode === 'set' ? 'set' : 'list', object];
  }
  return out;
}

export function extractProvider(packageDir: string, provider: string, source: string): ProviderSchemaFile {
  const libDir = path.join(packageDir, 'lib');
  const pkg = JSON.parse(readFileSync(path.join(packageDir, 'package.json'), 'utf8')) as { name: string; version: string };
  const readme = readFileSync(path.join(packageDir, 'README.md'), 'utf8');
  const version = /provider version (\d+\.\d+\.\d+)/.exec(readme)?.[1];
  if (!version) throw new Error(`${packageDir}: README names no provider version`);
  const out: ProviderSchemaFile = {
    format: 'terraform providers schema -json (provider_schemas subset)',
    source: `${source} (npm ${pkg.name}@${pkg.version}), extracted by scripts/terraform-schema/extract.ts`,
    provider: `registry.terraform.io/hashicorp/${provider}`,
    version,
    provider_schema: { block: {} },
    resource_schemas: {},
    data_source_schemas: {},
  };
  for (const dir of readdirSync(libDir).sort()) {
    if (!existsSync(path.join(libDir, dir, 'index.js'))) continue;
    // Large bindings keep their structs in index-structs/*.js beside index.js.
    const sources = readdirSync(path.join(libDir, dir), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.js'))
      .sort()
      .map((f) => ts.createSourceFile(`${dir}/${f}`, generatedSource(path.join(libDir, dir, f)), ts.ScriptTarget.Latest, true, ts.ScriptKind.TS));
    const binding = new Binding(`${dir}/index.ts`, sources);
    const main = binding.mainClass();
    if (!main) continue;
    const block = binding.describe(main.decl, true);
    if (main.kind === 'provider') out.provider_schema = { block };
    else (main.kind === 'resource' ? out.resource_schemas : out.data_source_schemas)[main.type] = { block };
  }
  return out;
}

function packFromNpm(pkg: string, version: string, into: string): string {
  const tgz = execFileSync('npm', ['pack', `${pkg}@${version}`, '--silent', '--pack-destination', into], { encoding: 'utf8' }).trim().split('\n').pop() ?? '';
  const dir = path.join(into, pkg.replace(/[@/]/g, '_'));
  mkdirSync(dir);
  execFileSync('tar', ['xzf', path.join(into, tgz), '-C', dir]);
  return path.join(dir, 'package');
}

function main(): void {
  const args = process.argv.slice(2);
  const fromAt = args.indexOf('--from');
  const from = fromAt >= 0 ? args.slice(fromAt + 1) : [];
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'tf-schema-'));
  try {
    mkdirSync(schemaDir, { recursive: true });
    SOURCES.forEach((src, i) => {
      const dir = from[i] ?? packFromNpm(src.package, src.packageVersion, tmp);
      const schema = extractProvider(dir, src.provider, `${src.package}@${src.packageVersion}`);
      const file = schemaFile(src.provider, schema.version);
      // mtime 0 and level 9: the same schema gives the same bytes.
      writeFileSync(file, gzipSync(JSON.stringify(schema), { level: 9 }));
      const n = (o: object) => Object.keys(o).length;
      process.stdout.write(`${path.relative(process.cwd(), file)}: ${n(schema.resource_schemas)} resources, ${n(schema.data_source_schemas)} data sources\n`);
    });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (require.main === module) main();
