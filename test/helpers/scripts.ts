/**
 * The script with this boot's token and boot reference replaced by TOKEN and REF (they are
 * random per boot), and each download's command as it would stand alone (the retry loop's
 * `&& goto ...` cut off, `&boot=REF` and `netboot.token=TOKEN` dropped): what the old
 * one-line-per-download scripts said.
 */
export function normalised(script: string): string {
  return script
    .replace(/[\da-f-]{36}\.[\da-f-]{36}\.[A-Za-z0-9_-]{43}/g, 'TOKEN')
    .replace(/[\da-f-]{36}\.[\da-f-]{36}/g, 'REF');
}
export function commands(script: string, verb: 'kernel' | 'initrd'): string[] {
  return normalised(script)
    .split('\n')
    .filter((l) => l.startsWith(`${verb} `))
    .map((l) => l.replace(/ && goto .*$/, '').replace('&boot=REF', '').replace(' netboot.token=TOKEN', ''));
}
