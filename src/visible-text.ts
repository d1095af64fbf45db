// Names from the medium (SBX file names, the names TSK reads) as a person is shown them: characters a terminal or a
// page would act on or hide — controls (ESC starts terminal commands), bidi overrides such as U+202E that reverse what
// follows ("evil\u202Etxt.exe" shows as "evilexe.txt"), zero-width and lone surrogates — appear as <U+XXXX>, so a
// crafted name can neither drive the terminal nor pose as another name. Import-free: the web page embeds the pattern.

export const HIDDEN_CHARS =
  // eslint-disable-next-line no-control-regex
  /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

export function visibleName(name: string): string {
  return name.replace(HIDDEN_CHARS, (c) => `<U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}>`);
}
