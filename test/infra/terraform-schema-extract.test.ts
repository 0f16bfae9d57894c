/**
 * scripts/terraform-schema/extract.ts on a binding written the way the CDKTF generator writes
 * them (its TypeScript in the source map of index.js): flags from the schema comments, types
 * from the getters, blocks from synthesizeHclAttributes(), at most one from an
 * OutputReference, sets from wrapsSet and Fn.tolist. The real schema needs the npm registry;
 * this runs anywhere.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { extractProvider } from '../../scripts/terraform-schema/extract';

const binding = `
import * as cdktf from 'cdktf';
export interface ThingRule { readonly action: string; readonly priority?: number; }
export function thingRuleToHclTerraform(struct?: ThingRule | cdktf.IResolvable): any {
  const attrs = {
    action: { value: cdktf.stringToHclTerraform(struct!.action), isBlock: false, type: "simple", storageClassType: "string" },
    priority: { value: cdktf.numberToHclTerraform(struct!.priority), isBlock: false, type: "simple", storageClassType: "number" },
  };
  return attrs;
}
export class ThingRuleOutputReference extends cdktf.ComplexObject {
  // action - computed: false, optional: false, required: true
  private _action?: string;
  public get action() { return this.getStringAttribute('action'); }
  // priority - computed: true, optional: true, required: false
  private _priority?: number;
  public get priority() { return this.getNumberAttribute('priority'); }
}
export class ThingRuleList extends cdktf.ComplexList {
  public get(index: number): ThingRuleOutputReference { return new ThingRuleOutputReference(this.terraformResource, this.terraformAttribute, index, this.wrapsSet); }
}
export interface ThingSettings { readonly enabled?: boolean | cdktf.IResolvable; }
export function thingSettingsToHclTerraform(struct?: ThingSettingsOutputReference | ThingSettings): any {
  const attrs = {
    enabled: { value: cdktf.booleanToHclTerraform(struct!.enabled), isBlock: false, type: "simple", storageClassType: "boolean" },
  };
  return attrs;
}
export class ThingSettingsOutputReference extends cdktf.ComplexObject {
  // enabled - computed: false, optional: true, required: false
  private _enabled?: boolean | cdktf.IResolvable;
  public get enabled() { return this.getBooleanAttribute('enabled'); }
}
export class ThingStatusOutputReference extends cdktf.ComplexObject {
  // state - computed: true, optional: false, required: false
  public get state() { return this.getStringAttribute('state'); }
}
export class ThingStatusList extends cdktf.ComplexList {
  public get(index: number): ThingStatusOutputReference { return new ThingStatusOutputReference(this.terraformResource, this.terraformAttribute, index, this.wrapsSet); }
}
export class Thing extends cdktf.TerraformResource {
  public static readonly tfResourceType = "google_thing";
  // name - computed: false, optional: false, required: true
  private _name?: string;
  public get name() { return this.getStringAttribute('name'); }
  // tags - computed: false, optional: true, required: false
  private _tags?: string[];
  public get tags() { return cdktf.Fn.tolist(this.getListAttribute('tags')); }
  // labels - computed: true, optional: false, required: false
  private _labels = new cdktf.StringMap(this, "labels");
  public get labels() { return this._labels; }
  // status - computed: true, optional: false, required: false
  private _status = new ThingStatusList(this, "status", false);
  public get status() { return this._status; }
  // rule - computed: false, optional: false, required: true
  private _rule = new ThingRuleList(this, "rule", true);
  public get rule() { return this._rule; }
  // settings - computed: false, optional: true, required: false
  private _settings = new ThingSettingsOutputReference(this, "settings");
  public get settings() { return this._settings; }
  protected synthesizeHclAttributes(): { [name: string]: any } {
    const attrs = {
      name: { value: cdktf.stringToHclTerraform(this._name), isBlock: false, type: "simple", storageClassType: "string" },
      tags: { value: cdktf.listMapperHcl(cdktf.stringToHclTerraform, false)(this._tags), isBlock: false, type: "set", storageClassType: "stringList" },
      rule: { value: cdktf.listMapperHcl(thingRuleToHclTerraform, true)(this._rule.internalValue), isBlock: true, type: "set", storageClassType: "ThingRuleList" },
      settings: { value: thingSettingsToHclTerraform(this._settings.internalValue), isBlock: true, type: "list", storageClassType: "ThingSettingsList" },
    };
    return attrs;
  }
}
`;

const scratch = mkdtempSync(path.join(os.tmpdir(), 'tf-extract-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A package laid out like @cdktf/provider-google: README naming the version, lib/<name>/index.js with its source map. */
function fakePackage(): string {
  const dir = path.join(scratch, 'package');
  mkdirSync(path.join(dir, 'lib', 'thing'), { recursive: true });
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: '@cdktf/provider-fake', version: '1.2.3' }));
  writeFileSync(path.join(dir, 'README.md'), '# CDKTF prebuilt bindings for hashicorp/fake provider version 9.8.7\n');
  const map = Buffer.from(JSON.stringify({ version: 3, sources: ['../../src/thing/index.ts'], sourcesContent: [binding], mappings: '' })).toString('base64');
  writeFileSync(path.join(dir, 'lib', 'thing', 'index.js'), `"use strict";\n//# sourceMappingURL=data:application/json;base64,${map}\n`);
  return dir;
}

describe('extract.ts', () => {
  const schema = extractProvider(fakePackage(), 'fake', '@cdktf/provider-fake@1.2.3');
  const thing = schema.resource_schemas.google_thing?.block;

  it('names the provider and the version its bindings were generated from', () => {
    expect(schema.version).toBe('9.8.7');
    expect(schema.provider).toBe('registry.terraform.io/hashicorp/fake');
    expect(Object.keys(schema.resource_schemas)).toEqual(['google_thing']);
  });

  it('reads attributes with their flags and types', () => {
    expect(thing?.attributes).toEqual({
      name: { type: 'string', required: true },
      tags: { type: ['set', 'string'], optional: true },
      labels: { type: ['map', 'string'], computed: true },
      status: { type: ['list', ['object', { state: 'string' }]], computed: true },
    });
  });

  it('reads blocks: a required set, at most one settings block, recursively', () => {
    expect(thing?.block_types).toEqual({
      rule: {
        nesting_mode: 'set',
        min_items: 1,
        block: { attributes: { action: { type: 'string', required: true }, priority: { type: 'number', optional: true, computed: true } } },
      },
      settings: { nesting_mode: 'list', max_items: 1, block: { attributes: { enabled: { type: 'bool', optional: true } } } },
    });
  });
});
