/**
 * The client address each front door's requests yield, through a real HTTP server: the
 * function reads X-Forwarded-For as Google's front ends leave it, with the hop count
 * Terraform gives a function behind that front door (terraform/boot_exposure.tf). A client
 * that writes its own X-Forwarded-For changes nothing, and a wrong hop count is shown to be
 * exploitable (why each function gets its own).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientAddress, clientAddressFrom, parseCidrs } from '../../shared/boot/client-address';
import { BootNetwork } from '../../shared/boot/network';
import { get, loadModule, type Json } from './terraform-files';

let server: http.Server;
let base: string;
const hops = new Map<string, number>();

beforeAll(async () => {
  const mod = await loadModule();
  const variable = (name: string) => get(mod.variables.get(name) as Json, 'default') as number;
  const doors = mod.locals.get('front_door_hops') as Record<string, string | number>;
  hops.set('function_url', doors.function_url as number);
  hops.set('api_gateway', variable('trusted_proxy_hops_api_gateway'));
  hops.set('internal_lb', variable('trusted_proxy_hops_internal_lb'));
  // Answers the address clientAddress finds, with the hop count in the `hops` query parameter.
  server = http.createServer((req, res) => {
    const n = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('hops'));
    res.end(clientAddress(req, n));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

async function seen(door: string, forwardedFor: string | undefined, hopsOverride?: number): Promise<string> {
  const n = hopsOverride ?? hops.get(door);
  const res = await fetch(`${base}/?hops=${n}`, { headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor } });
  return res.text();
}

const client = '198.51.100.7';
const spoof = '10.0.0.1';

// What the function receives: [what the client wrote], then what the front ends appended.
const shapes: [door: string, honest: string, spoofed: string][] = [
  // Cloud Run's front end appends the peer it saw (the function's own URL).
  ['function_url', client, `${spoof}, ${client}`],
  // The internal Application LB appends `<client-ip>,<load-balancer-ip>`.
  ['internal_lb', `${client}, 10.128.0.50`, `${spoof}, ${client}, 10.128.0.50`],
  // API Gateway's front end appends the client, the function's front end the gateway's egress.
  ['api_gateway', `${client}, 34.117.1.2`, `${spoof}, ${client}, 34.117.1.2`],
];

describe('clientAddress per front door (HTTP)', () => {
  it('Terraform gives the function URL 1 hop, the load balancer and the gateway 2', () => {
    expect(Object.fromEntries(hops)).toEqual({ function_url: 1, api_gateway: 2, internal_lb: 2 });
  });

  it.each(shapes)('%s: the client, whatever it wrote into X-Forwarded-For', async (door, honest, spoofed) => {
    expect(await seen(door, honest)).toBe(client);
    expect(await seen(door, spoofed)).toBe(client);
    expect(await seen(door, `${spoof}, ${spoof}, ${spoofed}`)).toBe(client);
  });

  it('an IPv6 client behind the load balancer, and an IPv4-mapped socket peer', async () => {
    expect(await seen('internal_lb', '2001:db8::5, 10.128.0.50')).toBe('2001:db8::5');
    expect(clientAddressFrom(undefined, '::ffff:192.0.2.1', 1)).toBe('192.0.2.1');
  });

  it('a wrong hop count is exploitable: the function URL with 2 hops believes the spoof', async () => {
    const [, , spoofed] = shapes[0] as [string, string, string];
    const believed = await seen('function_url', spoofed, 2);
    expect(believed).toBe(spoof);
    expect(parseCidrs('10.0.0.0/8').check(believed, 'ipv4')).toBe(true);
  });

  it('too few entries for the hop count fall back to the socket peer, never to a client-written entry', async () => {
    expect(await seen('internal_lb', client)).toBe('127.0.0.1');
    expect(clientAddressFrom('', undefined, 2)).toBe('');
  });
});

/**
 * Issue 21: a VPC host may call a boot function's own URL instead of the internal load
 * balancer (ingress ALLOW_INTERNAL_AND_GCLB admits both). The load balancer's URL map marks
 * its requests with X-Netboot-Front-Door (FRONT_DOOR_SECRET, replacing any a client sent);
 * the function counts the load balancer's hop only for marked requests, 1 otherwise.
 */
describe('the client address whichever way a VPC host calls (FRONT_DOOR_SECRET)', () => {
  const secret = 'f'.repeat(48);
  let doorServer: http.Server;
  let doorBase: string;

  beforeAll(async () => {
    const network = new BootNetwork('10.0.0.0/8,198.51.100.0/24', hops.get('internal_lb') as number, secret);
    doorServer = http.createServer((req, res) => res.end(network.clientAddress(req)));
    await new Promise<void>((resolve) => doorServer.listen(0, '127.0.0.1', resolve));
    doorBase = `http://127.0.0.1:${(doorServer.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => doorServer.close(() => resolve())));

  const through = async (forwardedFor: string, mark?: string) =>
    (await fetch(doorBase, { headers: { 'x-forwarded-for': forwardedFor, ...(mark === undefined ? {} : { 'x-netboot-front-door': mark }) } })).text();

  it('through the load balancer (marked): the client, whatever it wrote', async () => {
    expect(await through(`${client}, 10.128.0.50`, secret)).toBe(client);
    expect(await through(`${spoof}, ${client}, 10.128.0.50`, secret)).toBe(client);
  });

  it("at the function's own URL (unmarked, one entry appended by Cloud Run): the caller, not the address it wrote", async () => {
    expect(await through(client)).toBe(client);
    expect(await through(`${spoof}, ${client}`)).toBe(client);
    // Without the mark the same request read with 2 hops would have believed the spoof.
    expect(clientAddressFrom(`${spoof}, ${client}`, undefined, 2)).toBe(spoof);
  });

  it('a mark the caller made up counts as none', async () => {
    expect(await through(`${spoof}, ${client}`, 'f'.repeat(47))).toBe(client);
    expect(await through(`${spoof}, ${client}`, '')).toBe(client);
  });

  it('Terraform: the URL map sets the mark on every boot route (replacing a client’s), and only the boot functions behind it get the secret', async () => {
    const mod = await loadModule();
    const urlMap = mod.resources.get('google_compute_region_url_map.boot') as Json;
    const text = JSON.stringify(urlMap);
    const rules = JSON.stringify(get(urlMap, 'path_matcher'));
    expect(rules).toContain('"header_name":"X-Netboot-Front-Door"');
    expect(rules).toContain('"header_value":"${var.front_door_secret}"');
    expect(rules).toContain('"replace":true');
    expect(text).toContain('route_rules');
    const env = String(mod.locals.get('function_env'));
    expect(env).toContain('local.front_door[name] == "internal_lb" && var.front_door_secret != null');
    expect(env).toContain('FRONT_DOOR_SECRET = var.front_door_secret');
    expect(get(mod.variables.get('front_door_secret') as Json, 'sensitive')).toBe(true);
  });
});
