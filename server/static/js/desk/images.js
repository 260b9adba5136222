// Lot images on the seller desk: checks in the seller's words, upload, thumbnails, removal.
import { api, ApiError } from "../api.js";
import { h } from "../dom.js";

/** What the server stores (it checks the bytes too; this only saves a pointless upload). */
export const IMAGE_TYPES = ["image/jpeg", "image/png", "image/webp"];
const TYPE_WORDS = "JPEG, PNG or WebP";

function megabytes(bytes) {
  const value = bytes / (1024 * 1024);
  return `${new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 }).format(value)} MB`;
}

/** Why `file` cannot be uploaded, in the seller's words, or null. */
export function imageProblem(file, maxBytes) {
  if (!IMAGE_TYPES.includes(file.type)) {
    return `“${file.name}” is not a ${TYPE_WORDS} image, so it cannot be uploaded.`;
  }
  if (maxBytes && file.size > maxBytes) {
    return `“${file.name}” is ${megabytes(file.size)}; an image can be at most ${megabytes(maxBytes)}.`;
  }
  if (file.size === 0) return `“${file.name}” is empty.`;
  return null;
}

/** POST one file as multipart/form-data → the stored image `{id, url, thumb_url, ...}`. */
export async function uploadImage(lotId, file, token) {
  const body = new FormData();
  body.append("file", file, file.name);
  let response;
  try {
    response = await fetch(`/api/lots/${lotId}/images`, {
      method: "POST",
      headers: { Accept: "application/json", Authorization: `Bearer ${token}` },
      body,
      cache: "no-store",
    });
  } catch {
    throw new ApiError(0, "unavailable", "The server cannot be reached; check your connection");
  }
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const error = (data && data.error) || {};
    const message =
      response.status === 413 && !error.message ? "The image is too large" : error.message;
    throw new ApiError(response.status, error.code || "internal", message || `The server answered ${response.status}`, error);
  }
  return data;
}

/**
 * Upload `files` to the lot one after another. Returns {uploaded, refused: [text]}: a file
 * refused here or by the server does not stop the others.
 */
export async function uploadAll(lotId, files, { token, maxBytes }) {
  const uploaded = [];
  const refused = [];
  for (const file of files) {
    const problem = imageProblem(file, maxBytes);
    if (problem) {
      refused.push(problem);
      continue;
    }
    try {
      uploaded.push(await uploadImage(lotId, file, token));
    } catch (error) {
      const why = error.message.replace(/\.$/, "");
      refused.push(`“${file.name}” was not uploaded: ${why}.`);
    }
  }
  return { uploaded, refused };
}

export async function removeImage(lotId, imageId) {
  await api("DELETE", `/api/lots/${lotId}/images/${imageId}`);
}

/** Put `image` first (the cover), the others in their order → the lot. */
export async function makeCover(lot, image) {
  const rest = lot.images.filter((other) => other.id !== image.id).map((other) => other.id);
  return api("PUT", `/api/lots/${lot.id}/images/order`, { image_ids: [image.id, ...rest] });
}

/** The thumbnails of `lot`; with `onRemove` and `onCover`, buttons to remove or promote each. */
export function thumbnails(lot, { onRemove, onCover } = {}) {
  const images = lot.images || [];
  if (images.length === 0) return h("p", { class: "muted", text: "No images yet." });
  return h(
    "ul",
    { class: "desk-thumbs", "aria-label": `Images of “${lot.title}”` },
    images.map((image, index) =>
      h(
        "li",
        {},
        h("img", {
          src: image.thumb_url,
          alt: `${lot.title}, image ${index + 1}${index === 0 ? " (cover)" : ""}`,
          width: "128",
          height: "96",
          loading: "lazy",
        }),
        onCover && index > 0
          ? h("button", {
              type: "button",
              class: "link",
              text: `Make image ${index + 1} the cover`,
              onclick: () => onCover(image, index),
            })
          : null,
        onRemove
          ? h("button", {
              type: "button",
              class: "link",
              text: `Remove image ${index + 1}`,
              onclick: () => onRemove(image, index),
            })
          : null,
      ),
    ),
  );
}
