/**
 * Image names and URLs as a deploy gives them, shared by the control plane's image store
 * (site-images.ts) and the agent's: pure, so the agent imports it through the kernel's
 * light SDK entry without the store.
 */

/** An image as an agent reports it. */
export interface ReportedImage {
  name: string;
  size: number;
  /** Null while the agent is still computing it (a large file just copied in). */
  sha256: string | null;
  format: string | null;
}

/** A file name in the store: no folders, no hidden files. */
export const imageNamePattern = '^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$';
const urlScheme = /^[a-z][a-z0-9+.-]*:\/\//i;

/** A deploy's image is a URL (used as given) or the name of an image in the site's store. */
export const isImageUrl = (image: string): boolean => urlScheme.test(image);

/** What an image file's name may end with after its short name: `debian-12` is `debian-12.raw`, `.raw.zst`, `.img.gz`, `.qcow2`… */
const imageSuffix = /^\.(raw|img|qcow2)(\.(gz|zst|xz))?$/;

/**
 * The file a deploy's image name means among `names` (a store's files): the name itself
 * when it is one, else the only file that is the name plus an image suffix (so
 * `--image debian-12` finds `debian-12.raw`). Several candidates are returned for the
 * caller to refuse as ambiguous; none is an empty list.
 */
export function matchImageName(image: string, names: readonly string[]): string[] {
  if (names.includes(image)) return [image];
  return names.filter((name) => name.startsWith(`${image}.`) && imageSuffix.test(name.slice(image.length)));
}
