// What building iPXE needs on the host, checked before anything runs, named as Debian packages.
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { IpxeBuildError } from './errors';
import type { IpxeTarget } from './targets';
import { crossPrefix } from './targets';

interface Requirement {
  /** A program on PATH, or a header file when it starts with '/'. */
  what: string;
  debianPackage: string;
}

function onPath(program: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, program), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** What the targets need (iPXE's Makefile: gcc, binutils, perl, openssl for TRUST/CERT, liblzma for BIOS's zbin). */
export function requirements(targets: readonly IpxeTarget[]): Requirement[] {
  const reqs: Requirement[] = [
    { what: 'make', debianPackage: 'make' },
    { what: 'gcc', debianPackage: 'gcc' },
    { what: 'perl', debianPackage: 'perl' },
    { what: 'openssl', debianPackage: 'openssl' },
    { what: 'tar', debianPackage: 'tar' },
    { what: 'xz', debianPackage: 'xz-utils' },
    { what: '/usr/include/lzma.h', debianPackage: 'liblzma-dev' },
  ];
  for (const t of targets) {
    const cross = crossPrefix(t);
    const arch = cross.startsWith('aarch64') ? 'aarch64-linux-gnu' : cross.startsWith('x86_64') ? 'x86-64-linux-gnu' : '';
    reqs.push({ what: `${cross}gcc`, debianPackage: cross ? `gcc-${arch}` : 'gcc' });
    reqs.push({ what: `${cross}ld`, debianPackage: cross ? `binutils-${arch}` : 'binutils' });
    reqs.push({ what: `${cross}objcopy`, debianPackage: cross ? `binutils-${arch}` : 'binutils' });
  }
  return reqs;
}

/** Throws one error naming every missing Debian package, or returns. */
export function checkToolchain(targets: readonly IpxeTarget[]): void {
  const missing = requirements(targets).filter((r) => !(r.what.startsWith('/') ? existsSync(r.what) : onPath(r.what)));
  if (missing.length === 0) return;
  const packages = [...new Set(missing.map((r) => r.debianPackage))];
  throw new IpxeBuildError(
    `building iPXE needs ${missing.map((r) => r.what).join(', ')}, missing here. On Debian: apt-get install -y ${packages.join(' ')} ` +
      '(or run scripts/e2e/prepare-ipxe.sh as root)',
    'toolchain',
  );
}
