import { randomBytes } from 'node:crypto';
import type { Firestore } from '@google-cloud/firestore';
import { afterAll, beforeAll, inject } from 'vitest';
import { startLocalStack, type LocalStack } from '../../emulators/stack';
import type { Root, RootParts } from '../../shared/root';
import { mintLocalToken } from '../../emulators/local-issuer';
import { assertKeepsContract } from '../../shared/api/check';
import { firestoreThrough, startFaultyGrpcProxy, type FaultyGrpcProxy } from './faulty-grpc';

export interface StackHandle {
  /** Base URL of the local gateway. */
  readonly url: string;
  readonly emulatorKind: 'embedded' | 'official';
  /** The composition root serving requests now (its clients reach this file's project and bucket). */
  root(): Root;
}

/** The stack of this test file (each file runs in a process of its own). */
let current: LocalStack | undefined;

/** The root of this file's stack: for reading the store behind the API (clients, bucket). */
export function currentRoot(): Root {
  if (!current) throw new Error('the local stack is not started yet (use it inside a test)');
  return current.root();
}

/**
 * Rate limits high enough that no test trips them by accident (files make hundreds of
 * admin requests a minute); test/ratelimit*.test.ts pass their own.
 */
export const highRateLimits: Record<string, string> = {
  RATE_LIMIT_BOOT_PER_MAC: '100000',
  // Off (0) unless a test turns them on (test/hostile-boot.test.ts): their extra counters would
  // change the Firestore calls other files count (test/boot-batching.test.ts).
  RATE_LIMIT_BOOT_PER_ADDRESS: '0',
  RATE_LIMIT_BOOT_GLOBAL: '0',
  RATE_LIMIT_ADMIN_PER_PRINCIPAL: '100000',
  RATE_LIMIT_ADMIN_PER_IP: '100000',
  RATE_LIMIT_ADMIN_GLOBAL: '100000',
  RATE_LIMIT_DOWNLOADS_PER_PROFILE: '100000',
};

/**
 * Points this process at the run's shared emulators under a project id and bucket of its own
 * (so files never see each other's data), with the tests' high rate limits and `env` over them.
 * Call it in a beforeAll, before starting a stack.
 */
export function enterOwnProject(env: Record<string, string> = {}): void {
  const suffix = randomBytes(4).toString('hex');
  Object.assign(process.env, {
    FIRESTORE_EMULATOR_HOST: inject('firestoreHost'),
    STORAGE_EMULATOR_HOST: inject('storageHost'),
    GOOGLE_CLOUD_PROJECT: `demo-test-${suffix}`,
    BLOB_BUCKET: `demo-test-${suffix}-blobs`,
    ...highRateLimits,
    ...env,
  });
}

/**
 * The whole local stack for one test file: the run's shared emulators, a project id
 * and bucket of this file's own (so files never see each other's data), and every
 * function behind a gateway on a free port.
 */
export function useLocalStack(env: Record<string, string> = {}, options: { decorate?: (parts: RootParts) => RootParts } = {}): StackHandle {
  let stack: LocalStack | undefined;
  beforeAll(async () => {
    enterOwnProject(env);
    stack = await startLocalStack({ decorate: options.decorate });
    current = stack;
  });
  afterAll(async () => {
    await stack?.stop();
    current = undefined;
  });
  return {
    get url() {
      if (!stack) throw new Error('the local stack is not started yet (use it inside a test)');
      return stack.url;
    },
    get emulatorKind() {
      return inject('emulatorKind');
    },
    root: currentRoot,
  };
}

/** A file's stack whose chosen parts reach Firestore through a proxy that counts and can lose answers. */
export interface StackThroughProxy {
  stack: StackHandle;
  /** The proxy (after the file's set-up). */
  readonly proxy: FaultyGrpcProxy;
  /** The Firestore client that talks through it (after the stack started). */
  readonly firestore: Firestore;
}

/**
 * `useLocalStack` with a faulty gRPC proxy (test/helpers/faulty-grpc.ts) in front of the
 * emulator; `wire` hands the proxied client to the parts that should use it.
 */
export function useLocalStackThroughProxy(env: Record<string, string>, wire: (parts: RootParts, firestore: Firestore) => RootParts): StackThroughProxy {
  let proxy: FaultyGrpcProxy | undefined;
  let firestore: Firestore | undefined;
  beforeAll(async () => {
    proxy = await startFaultyGrpcProxy(inject('firestoreHost'));
  });
  const stack = useLocalStack(env, {
    decorate: (parts) => {
      if (!proxy) throw new Error('the proxy is not started');
      firestore ??= firestoreThrough(proxy.host, process.env.GOOGLE_CLOUD_PROJECT as string);
      return wire(parts, firestore);
    },
  });
  afterAll(async () => {
    await firestore?.terminate();
    await proxy?.close();
  });
  return {
    stack,
    get proxy() {
      if (!proxy) throw new Error('the proxy is not started');
      return proxy;
    },
    get firestore() {
      if (!firestore) throw new Error('the stack is not started');
      return firestore;
    },
  };
}

export interface ApiResponse<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

/** One request; the body is parsed when it is JSON of any kind (problem+json included). */
export async function request<T = Record<string, unknown>>(
  base: string,
  method: string,
  path: string,
  init: { json?: unknown; body?: RequestInit['body']; headers?: Record<string, string>; anonymous?: boolean; /** Skip the contract check (a test about a response the contract cannot describe). */ unchecked?: boolean } = {},
): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { ...init.headers };
  // Admin calls carry the local admin's token unless the test says otherwise.
  if (path.startsWith('/api/') && !init.anonymous && !Object.keys(headers).some((h) => h.toLowerCase() === 'authorization')) {
    headers.authorization = `Bearer ${adminToken()}`;
  }
  let body = init.body;
  if (init.json !== undefined) {
    headers['content-type'] ??= 'application/json';
    body = JSON.stringify(init.json);
  }
  const res = await fetch(base + path, { method, headers, body, redirect: 'manual' });
  const text = await res.text();
  // Every response keeps the OpenAPI contract (shared/api/contract.ts): status, content type, body, headers.
  if (!init.unchecked) assertKeepsContract({ method, url: path, status: res.status, headers: res.headers, text });
  const isJson = /json/.test(res.headers.get('content-type') ?? '');
  return { status: res.status, headers: res.headers, body: (isJson && text ? JSON.parse(text) : undefined) as T, text };
}

let cachedToken: string | undefined;

function adminToken(): string {
  cachedToken ??= mintLocalToken();
  return cachedToken;
}

/** Changes configuration for the rest of a test file: the stack serves from a root built with it (undefined: back to the default). */
export function setEnv(values: Record<string, string | undefined>): void {
  if (!current) throw new Error('the local stack is not started yet (use it inside a test)');
  current.reconfigure(values);
}
