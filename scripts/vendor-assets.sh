#!/usr/bin/env bash
# Vendor the built web assets of the GOV.UK Design System (govuk-frontend) and
# the MOJ Design System (@ministryofjustice/frontend) into
# crates/cnis-server/assets/, so the Rust server can embed and serve them with
# no npm at build time.
#
# Usage (from any directory):  scripts/vendor-assets.sh
#
# Needs node (>= 20.19, for sass) and npm, and access to the npm registry.
# All npm work happens in a temporary directory outside the repository, which
# is deleted on exit. The output is deterministic: running the script twice
# gives byte-identical files (compare manifest.json).
#
# To upgrade: change the versions below, move NPM_BEFORE to a date after the
# newest of them was published, run the script, review the diff of
# crates/cnis-server/assets/ (manifest.json and README.md list the versions).
set -euo pipefail

# Pinned exact versions.
GOVUK_FRONTEND_VERSION="6.6.0"
MOJ_FRONTEND_VERSION="11.1.0"
SASS_VERSION="1.108.2"
# npm resolves the transitive dependencies of sass (immutable, chokidar, ...)
# as the registry stood at this instant, so a rerun installs the same tree.
# It must be later than the publication of the three versions above.
NPM_BEFORE="2026-11-30T00:00:00Z"

# Where the sass entry file points image URLs. The Rust server serves
# crates/cnis-server/assets/ at this path.
ASSETS_URL_PATH="/assets/"

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$script_dir/.." && pwd)"
out_dir="$repo_root/crates/cnis-server/assets"

log() { printf 'vendor-assets: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

command -v node >/dev/null 2>&1 || die "node is not installed"
command -v npm >/dev/null 2>&1 || die "npm is not installed"

work="$(mktemp -d "${TMPDIR:-/tmp}/cnis-vendor-assets.XXXXXX")"
trap 'rm -rf "$work"' EXIT
stage="$work/stage"
mkdir -p "$stage/images" "$work/tools"

export LC_ALL=C

# ---------------------------------------------------------------------------
# 1. Install the pinned packages in the temporary directory.
# ---------------------------------------------------------------------------
cat >"$work/package.json" <<EOF
{
  "name": "cnis-vendor-assets",
  "version": "0.0.0",
  "private": true,
  "dependencies": {
    "@ministryofjustice/frontend": "$MOJ_FRONTEND_VERSION",
    "govuk-frontend": "$GOVUK_FRONTEND_VERSION",
    "sass": "$SASS_VERSION"
  }
}
EOF

log "npm install govuk-frontend@$GOVUK_FRONTEND_VERSION @ministryofjustice/frontend@$MOJ_FRONTEND_VERSION sass@$SASS_VERSION (in $work)"
# --legacy-peer-deps: do not pull in MOJ Frontend's peer dependency "moment"
#   (only the Nunjucks date filter uses it; the browser bundle does not).
# --omit=optional: sass's optional @parcel/watcher is only for --watch.
(
  cd "$work"
  npm install --no-audit --no-fund --ignore-scripts --legacy-peer-deps \
    --omit=optional --before="$NPM_BEFORE" --loglevel=warn >&2
)

nm="$work/node_modules"
govuk_dist="$nm/govuk-frontend/dist/govuk"
moj_dist="$nm/@ministryofjustice/frontend/moj"

# ---------------------------------------------------------------------------
# Helper scripts (node, so the script also works where GNU tools are missing).
# ---------------------------------------------------------------------------

# Check the installed versions match the pins.
cat >"$work/tools/check-versions.mjs" <<'EOF'
import { readFileSync } from "node:fs";
const [nm, ...pairs] = process.argv.slice(2);
for (const pair of pairs) {
  const at = pair.lastIndexOf("@");
  const name = pair.slice(0, at);
  const want = pair.slice(at + 1);
  const got = JSON.parse(readFileSync(`${nm}/${name}/package.json`, "utf8")).version;
  if (got !== want) {
    console.error(`installed ${name}@${got}, expected ${want}`);
    process.exit(1);
  }
}
EOF

# Remove the trailing "//# sourceMappingURL=..." comment from a JS bundle
# (source maps are not vendored; the comment would make browsers' developer
# tools request a .map file that does not exist).
cat >"$work/tools/strip-source-map.mjs" <<'EOF'
import { readFileSync, writeFileSync } from "node:fs";
const [src, dst] = process.argv.slice(2);
const text = readFileSync(src, "utf8");
const stripped = text.replace(/\n?\/\/# sourceMappingURL=[^\n]*\n?$/, "\n");
if (stripped === text) {
  console.error(`${src}: no trailing sourceMappingURL comment found`);
  process.exit(1);
}
if (stripped.includes("sourceMappingURL")) {
  console.error(`${src}: still mentions sourceMappingURL after stripping`);
  process.exit(1);
}
writeFileSync(dst, stripped);
EOF

# Check the compiled CSS and print the image file names it references, one a
# line, sorted.
cat >"$work/tools/check-css.mjs" <<'EOF'
import { readFileSync } from "node:fs";
const [cssPath, assetsPath, ...upstreamCssPaths] = process.argv.slice(2);
const css = readFileSync(cssPath, "utf8");
const fail = (msg) => { console.error(`${cssPath}: ${msg}`); process.exit(1); };

// "All components": every class in the packages' own precompiled CSS must be
// in ours too.
const classes = (text) => new Set(text.match(/\.(?:govuk|moj)-[A-Za-z0-9_-]+/g) ?? []);
const ours = classes(css);
for (const p of upstreamCssPaths) {
  const missing = [...classes(readFileSync(p, "utf8"))].filter((c) => !ours.has(c));
  if (missing.length) fail(`lacks ${missing.length} classes of ${p}: ${missing.slice(0, 10).join(" ")}`);
}

for (const banned of ["GDS Transport", "@font-face", ".woff", "/fonts/", "sourceMappingURL"]) {
  if (css.includes(banned)) fail(`contains ${JSON.stringify(banned)}`);
}
const required = [
  "govuk-template", "govuk-width-container", "govuk-header", "govuk-footer",
  "govuk-button", "govuk-table", "govuk-summary-list", "govuk-error-summary",
  "moj-identity-bar", "moj-timeline", "moj-filter", "moj-badge",
  "moj-sub-navigation", "moj-primary-navigation", "moj-pagination__results",
];
for (const cls of required) {
  if (!new RegExp(`\\.${cls}(?![A-Za-z0-9_-])`).test(css)) fail(`has no .${cls} rule`);
}

// Every url() must point at an image the script copies, with one exception:
// GOV.UK Frontend's footer draws the Crown copyright crest with
// url(".../govuk-crest.svg") in the rules for .govuk-footer__copyright-logo.
// The crest is GOV.UK branding, which a council service must not show, so it
// is not vendored; cnis's pages never use that class, so the URL is never
// requested. The reference is allowed only in rules whose selector is exactly
// that class's ::before, so a new use of the crest elsewhere fails here.
const allowedMissing = {
  "govuk-crest.svg": ".govuk-footer__copyright-logo::before",
};
const imagesPrefix = `${assetsPath}images/`;
const images = new Set();
const allowedSeen = new Set();
for (const m of css.matchAll(/url\(\s*(['"]?)([^'")]*)\1\s*\)/g)) {
  const url = m[2];
  if (url.startsWith("data:")) continue;
  if (!url.startsWith(imagesPrefix)) fail(`url(${url}) is not under ${imagesPrefix}`);
  const name = url.slice(imagesPrefix.length);
  if (!/^[A-Za-z0-9._-]+$/.test(name)) fail(`unexpected image url ${url}`);
  if (Object.hasOwn(allowedMissing, name)) {
    // The selector of the rule holding this url(): the text between the
    // previous "{" or "}" (or ";") and the "{" that opens the rule.
    const open = css.lastIndexOf("{", m.index);
    const start = Math.max(css.lastIndexOf("}", open - 1), css.lastIndexOf("{", open - 1), css.lastIndexOf(";", open - 1));
    const selector = css.slice(start + 1, open).trim();
    if (selector !== allowedMissing[name]) fail(`url(${url}) is used by "${selector}", not only by ${allowedMissing[name]}`);
    allowedSeen.add(name);
    continue;
  }
  images.add(name);
}
for (const name of Object.keys(allowedMissing)) {
  if (!allowedSeen.has(name)) fail(`no longer references ${name}: remove it from allowedMissing`);
}
for (const name of [...images].sort()) console.log(name);
EOF

# Content-Security-Policy hash of the inline script in GOV.UK Frontend's page
# template (it sets the js-enabled and govuk-frontend-supported classes).
cat >"$work/tools/template-script-hash.mjs" <<'EOF'
import { readFileSync } from "node:fs";
import { createHash } from "node:crypto";
const [templatePath] = process.argv.slice(2);
const m = /<script[^>]*>([^<]*)<\/script>/.exec(readFileSync(templatePath, "utf8"));
if (!m) { console.error(`no inline script in ${templatePath}`); process.exit(1); }
const hash = createHash("sha256").update(m[1], "utf8").digest("base64");
console.log(`${m[1]}\t'sha256-${hash}'`);
EOF

# Write manifest.json: package versions and npm integrity, and the sha256 of
# every file in the stage directory. Keys sorted at every level.
cat >"$work/tools/manifest.mjs" <<'EOF'
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { join, relative, sep } from "node:path";
const [stage, lockPath, ...names] = process.argv.slice(2);
const lock = JSON.parse(readFileSync(lockPath, "utf8"));
const packages = {};
for (const name of names) {
  const entry = lock.packages[`node_modules/${name}`];
  if (!entry) { console.error(`${name} not in package-lock.json`); process.exit(1); }
  packages[name] = { integrity: entry.integrity, version: entry.version };
}
const files = {};
const walk = (dir) => {
  for (const ent of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, ent.name);
    if (ent.isDirectory()) walk(p);
    else files[relative(stage, p).split(sep).join("/")] = createHash("sha256").update(readFileSync(p)).digest("hex");
  }
};
walk(stage);
delete files["manifest.json"];
const sortKeys = (v) =>
  v && typeof v === "object" && !Array.isArray(v)
    ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys(v[k])]))
    : v;
const manifest = sortKeys({
  files,
  generator: "scripts/vendor-assets.sh",
  packages,
});
writeFileSync(join(stage, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
EOF

node "$work/tools/check-versions.mjs" "$nm" \
  "govuk-frontend@$GOVUK_FRONTEND_VERSION" \
  "@ministryofjustice/frontend@$MOJ_FRONTEND_VERSION" \
  "sass@$SASS_VERSION" || die "installed versions differ from the pins"

# ---------------------------------------------------------------------------
# 2. Compile one stylesheet from GOV.UK Frontend and MOJ Frontend Sass.
# ---------------------------------------------------------------------------
# MOJ Frontend configures GOV.UK Frontend's settings itself (in
# moj/vendor/govuk-frontend/_index.scss it @forwards govuk "base" with
# $govuk-assets-path, $govuk-images-path, $govuk-fonts-path, $govuk-font-family
# and $govuk-include-default-font-face taken from its own $moj-* settings).
# Sass lets a module be configured only the first time it is loaded, so the
# entry file sets the $moj-* settings first, then loads MOJ's GOV.UK
# configuration, then all of GOV.UK Frontend (which reuses that configured
# base), then all of MOJ Frontend. GOV.UK CSS comes before MOJ CSS.
#
# - $moj-font-family -> $govuk-font-family: no "GDS Transport" (that font is
#   only for services on GOV.UK).
# - $moj-include-default-font-face is false in MOJ Frontend (not
#   configurable) -> $govuk-include-default-font-face: false, so no @font-face.
# - $moj-assets-path -> $govuk-assets-path, $moj-images-path and
#   $govuk-images-path ("/assets/images/").
cat >"$work/cnis.scss" <<EOF
// Generated by scripts/vendor-assets.sh; not kept in the repository.
@use "node_modules/@ministryofjustice/frontend/moj/settings/all" as moj-settings with (
  \$moj-assets-path: "$ASSETS_URL_PATH",
  \$moj-font-family: (arial, sans-serif)
);
@use "node_modules/@ministryofjustice/frontend/moj/vendor/govuk-frontend" as moj-govuk-settings;
@use "node_modules/govuk-frontend/dist/govuk" as govuk;
@use "node_modules/@ministryofjustice/frontend/moj/all" as moj;
EOF

# Expect one warning: MOJ Frontend's alert uses GOV.UK Frontend's deprecated
# govuk-text-colour mixin. It cannot be suppressed here because MOJ Frontend
# sets $govuk-suppressed-warnings itself.
log "compiling cnis.css with sass $SASS_VERSION"
(
  cd "$work"
  node node_modules/sass/sass.js --no-source-map --style=compressed \
    --quiet-deps --load-path=. cnis.scss "$stage/cnis.css"
)

referenced_images="$(node "$work/tools/check-css.mjs" "$stage/cnis.css" "$ASSETS_URL_PATH" \
  "$govuk_dist/govuk-frontend.min.css" "$moj_dist/moj-frontend.min.css")" \
  || die "cnis.css failed its checks"

# ---------------------------------------------------------------------------
# 3. JavaScript bundles (ES modules), without source maps.
# ---------------------------------------------------------------------------
node "$work/tools/strip-source-map.mjs" "$govuk_dist/govuk-frontend.min.js" "$stage/govuk-frontend.min.js"
node "$work/tools/strip-source-map.mjs" "$moj_dist/moj-frontend.min.js" "$stage/moj-frontend.min.js"

# Initialisation module, loaded with <script type="module" src="/assets/init.js">
# so pages need no inline script (Content-Security-Policy without
# 'unsafe-inline'). Module scripts run only in browsers that GOV.UK Frontend
# supports, so setting govuk-frontend-supported here is right.
cat >"$stage/init.js" <<'EOF'
// Generated by scripts/vendor-assets.sh: edit the script, not this file.
// Load with <script type="module" src="/assets/init.js"></script> at the end of <body>.
import * as GOVUKFrontend from "./govuk-frontend.min.js";
import * as MOJFrontend from "./moj-frontend.min.js";

document.body.classList.add("js-enabled", "govuk-frontend-supported");
GOVUKFrontend.initAll();
MOJFrontend.initAll();
EOF

# ---------------------------------------------------------------------------
# 4. Images: GOV.UK Frontend's images except its branding, the MOJ images the
#    CSS references, and cnis's own favicon. No fonts.
# ---------------------------------------------------------------------------
# GOV.UK branding (Crown copyright): the crest, the GOV.UK icons, favicons and
# Open Graph image. Government guidance is that services not on a gov.uk
# domain use the Design System but not the GOV.UK branding (crown, crest,
# GOV.UK logo, GDS Transport font), and cnis is a council service.
GOVUK_BRANDING_IMAGES=(
  favicon.ico favicon.svg govuk-crest.svg
  govuk-icon-180.png govuk-icon-192.png govuk-icon-512.png govuk-icon-mask.svg
  govuk-opengraph-image.png
)
is_branding() {
  local b
  for b in "${GOVUK_BRANDING_IMAGES[@]}"; do [ "$1" = "$b" ] && return 0; done
  return 1
}
for f in "$govuk_dist/assets/images/"*; do
  [ -f "$f" ] || continue
  name="$(basename "$f")"
  is_branding "$name" && continue
  # A GOV.UK image not in the list above, after an upgrade: decide whether
  # it is branding before it is shipped.
  case "$name" in
    govuk-* | favicon* | *crown* | *crest* | *logo*)
      die "GOV.UK Frontend has a new image $name that looks like branding: add it to GOVUK_BRANDING_IMAGES or allow it" ;;
  esac
  cp "$f" "$stage/images/"
done
while IFS= read -r name; do
  [ -n "$name" ] || continue
  is_branding "$name" && die "cnis.css references the GOV.UK branding image $name"
  if [ -f "$stage/images/$name" ]; then
    if [ -f "$moj_dist/assets/images/$name" ] && ! cmp -s "$moj_dist/assets/images/$name" "$stage/images/$name"; then
      die "image $name differs between GOV.UK Frontend and MOJ Frontend"
    fi
  elif [ -f "$moj_dist/assets/images/$name" ]; then
    cp "$moj_dist/assets/images/$name" "$stage/images/"
  else
    die "cnis.css references images/$name, found in neither package"
  fi
done <<<"$referenced_images"

# cnis's own favicon, in place of GOV.UK's: a lowercase "c" (a stroked arc) in
# white on a #1d70b8 rounded square. Not from npm; the manifest covers it.
# Link it with <link rel="icon" href="/assets/images/favicon.svg" type="image/svg+xml">.
[ ! -e "$stage/images/favicon.svg" ] || die "images/favicon.svg already exists in the stage"
cat >"$stage/images/favicon.svg" <<'EOF'
<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#1d70b8"/><path d="M21.75 10.64a7 7 0 1 0 0 10.72" fill="none" stroke="#fff" stroke-width="3.5" stroke-linecap="round"/></svg>
EOF

# Every image cnis.css references is now in the stage, and no GOV.UK branding.
while IFS= read -r name; do
  [ -z "$name" ] || [ -f "$stage/images/$name" ] || die "cnis.css references images/$name, which was not copied"
done <<<"$referenced_images"
for name in "${GOVUK_BRANDING_IMAGES[@]}"; do
  [ "$name" = favicon.svg ] && continue
  [ ! -e "$stage/images/$name" ] || die "GOV.UK branding image $name was copied"
done
if cmp -s "$stage/images/favicon.svg" "$govuk_dist/assets/images/favicon.svg"; then
  die "images/favicon.svg is GOV.UK's"
fi

# ---------------------------------------------------------------------------
# 5. Licences. Neither npm package includes its LICENSE file, so the texts are
#    kept here, copied verbatim from the upstream repositories:
#    alphagov/govuk-frontend LICENSE.txt (unchanged since 2017) and
#    ministryofjustice/moj-frontend LICENSE (unchanged since 2019).
# ---------------------------------------------------------------------------
cat >"$stage/LICENCE-govuk-frontend.txt" <<'EOF'
The MIT License (MIT)

Copyright (C) 2017 Crown Copyright (Government Digital Service)

Permission is hereby granted, free of charge, to any person obtaining a copy of
this software and associated documentation files (the "Software"), to deal in
the Software without restriction, including without limitation the rights to
use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies
of the Software, and to permit persons to whom the Software is furnished to do
so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
EOF

cat >"$stage/LICENCE-moj-frontend.txt" <<'EOF'
MIT License

Copyright (c) 2019 Ministry of Justice

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
EOF

# ---------------------------------------------------------------------------
# 6. README.md
# ---------------------------------------------------------------------------
IFS=$'\t' read -r inline_script inline_script_hash \
  < <(node "$work/tools/template-script-hash.mjs" "$govuk_dist/template.njk")
[ -n "${inline_script_hash:-}" ] || die "could not hash the template's inline script"
image_list="$(cd "$stage/images" && for f in *; do printf -- '- `images/%s`\n' "$f"; done)"

cat >"$stage/README.md" <<EOF
# Vendored GOV.UK Frontend and MOJ Frontend assets

Generated by \`scripts/vendor-assets.sh\`. Do not edit these files by hand:
\`manifest.json\` records the sha256 of every file here, and the script
rewrites all of them. To regenerate (needs node >= 20.19, npm and the npm
registry; works from any directory):

\`\`\`sh
scripts/vendor-assets.sh
\`\`\`

To upgrade, change the versions (and \`NPM_BEFORE\`) at the top of the script
and run it again.

## Versions

| Package | Version | Used for |
| --- | --- | --- |
| [govuk-frontend](https://www.npmjs.com/package/govuk-frontend) | $GOVUK_FRONTEND_VERSION | Sass, JavaScript, images |
| [@ministryofjustice/frontend](https://www.npmjs.com/package/@ministryofjustice/frontend) | $MOJ_FRONTEND_VERSION | Sass, JavaScript, images |
| [sass](https://www.npmjs.com/package/sass) (Dart Sass) | $SASS_VERSION | compiling \`cnis.css\` (build tool only, nothing of it is shipped) |

## Files

- \`cnis.css\`: one minified stylesheet with all of GOV.UK Frontend and all of
  MOJ Frontend, compiled from their Sass. It uses \`arial, sans-serif\`, not
  the GDS Transport font, has no \`@font-face\` and no source map, and its
  image URLs point at \`${ASSETS_URL_PATH}images/\`.
- \`govuk-frontend.min.js\`: GOV.UK Frontend's ES module bundle
  (\`dist/govuk/govuk-frontend.min.js\`), exports \`initAll\`, \`createAll\`
  and the component classes.
- \`moj-frontend.min.js\`: MOJ Frontend's ES module bundle
  (\`moj/moj-frontend.min.js\`), exports \`initAll\` and the component
  classes. Self-contained: it does not import govuk-frontend or moment.
- \`init.js\`: a small module (written by the script, not from npm) that sets
  the \`js-enabled\` and \`govuk-frontend-supported\` classes on \`<body>\` and
  calls both \`initAll()\` functions.
- \`images/\`: the MOJ Frontend images that \`cnis.css\` references, any
  GOV.UK Frontend image that is not GOV.UK branding (in $GOVUK_FRONTEND_VERSION
  there is none: all of \`dist/govuk/assets/images/\` is branding), and
  \`favicon.svg\`, cnis's own favicon (written by the script, not from npm: a
  white lowercase "c" on a #1d70b8 rounded square). Link it with
  \`<link rel="icon" href="${ASSETS_URL_PATH}images/favicon.svg" type="image/svg+xml">\`.
  The fonts are not vendored.
- \`manifest.json\`: package versions, npm integrity hashes and the sha256 of
  every other file here.
- \`LICENCE-govuk-frontend.txt\`, \`LICENCE-moj-frontend.txt\`: the packages'
  licences.

The two JS bundles are byte-for-byte the npm files except that the trailing
\`//# sourceMappingURL=\` comment is removed (the maps are not vendored).

Images:

$image_list

## How it was built

The Sass entry file the script compiles (in a temporary directory, with
\`--load-path=.\` so that MOJ Frontend's \`node_modules/govuk-frontend/...\`
paths resolve):

\`\`\`scss
@use "node_modules/@ministryofjustice/frontend/moj/settings/all" as moj-settings with (
  \$moj-assets-path: "$ASSETS_URL_PATH",
  \$moj-font-family: (arial, sans-serif)
);
@use "node_modules/@ministryofjustice/frontend/moj/vendor/govuk-frontend" as moj-govuk-settings;
@use "node_modules/govuk-frontend/dist/govuk" as govuk;
@use "node_modules/@ministryofjustice/frontend/moj/all" as moj;
\`\`\`

MOJ Frontend configures GOV.UK Frontend itself: its
\`moj/vendor/govuk-frontend/_index.scss\` forwards GOV.UK Frontend's settings
with \`\$govuk-assets-path: \$moj-assets-path\`, \`\$govuk-images-path\`,
\`\$govuk-fonts-path\`, \`\$govuk-font-family: \$moj-font-family\` and
\`\$govuk-include-default-font-face: \$moj-include-default-font-face\` (which
is \`false\`). Sass configures a module only once, so GOV.UK Frontend's
settings (\`\$govuk-font-family\`, \`\$govuk-include-default-font-face\`,
\`\$govuk-assets-path\` in \`dist/govuk/settings/\`) are set through MOJ's.
Writing \`@use "…/govuk-frontend/dist/govuk" with (…)\` and then
\`@forward "…/moj/all" with (…)\`, as MOJ Frontend's "Import CSS"
documentation shows, fails with "This module was already loaded, so it can't
be configured using with".

Sass prints one warning while compiling (MOJ Frontend's alert uses the
deprecated \`govuk-text-colour\` mixin); it is expected and harmless.
\`cnis.css\` starts with a UTF-8 byte order mark, which is how compressed Dart
Sass marks non-ASCII output instead of \`@charset\`.

## Using them in pages

Serve this folder at \`$ASSETS_URL_PATH\` with correct content types
(\`text/css\`, \`text/javascript\` for \`.js\`, which module scripts require,
\`image/svg+xml\`).

\`\`\`html
<html lang="en" class="govuk-template">
  <head>
    <link rel="stylesheet" href="/assets/cnis.css">
  </head>
  <body class="govuk-template__body">
    …
    <script type="module" src="/assets/init.js"></script>
  </body>
</html>
\`\`\`

\`init.js\` imports \`govuk-frontend.min.js\` and \`moj-frontend.min.js\`
itself, so there is no inline script, and a Content-Security-Policy of
\`script-src 'self'\` (no \`'unsafe-inline'\`) is enough. The upstream
documentation instead uses an inline module script
(\`import { initAll } from '/assets/govuk-frontend.min.js'; initAll()\`), which
would need \`'unsafe-inline'\`, a nonce or a hash.

Because module scripts run after the page has been parsed, the
\`js-enabled\`/\`govuk-frontend-supported\` classes arrive a moment after first
paint, and components styled differently with JavaScript (accordion, tabs,
…) can flicker. To avoid that, also put GOV.UK Frontend's template line at the
top of \`<body>\`:

\`\`\`html
<script>$inline_script</script>
\`\`\`

and allow exactly that script in the policy with its hash (or a per-response
nonce): \`script-src 'self' $inline_script_hash\`.

## Licences and branding

- GOV.UK Frontend: MIT, Copyright (C) 2017 Crown Copyright (Government Digital
  Service); see \`LICENCE-govuk-frontend.txt\`. Its documentation is Crown
  copyright under the Open Government Licence v3.0.
- MOJ Frontend: MIT, Copyright (c) 2019 Ministry of Justice; see
  \`LICENCE-moj-frontend.txt\`.
- Neither npm package includes its licence file, so the script writes the
  texts from the upstream repositories (alphagov/govuk-frontend
  \`LICENSE.txt\`, ministryofjustice/moj-frontend \`LICENSE\`).
- The GDS Transport font is only for services on GOV.UK, so it is neither
  vendored nor referenced.
- cnis is a council service, not on a gov.uk domain. Government guidance
  (https://www.gov.uk/guidance/use-govuk-domains-and-the-govuk-design-system)
  is that such a service uses the Design System but not the GOV.UK branding:
  the crown, the crest, the GOV.UK logo and the GDS Transport font. So none
  of GOV.UK Frontend's branding images is vendored (see "Not vendored"), and
  pages must not use:
  - \`govuk-footer__copyright-logo\`: the only class in \`cnis.css\` that
    draws \`govuk-crest.svg\`. \`cnis.css\` still contains that rule, with
    \`url("${ASSETS_URL_PATH}images/govuk-crest.svg")\`, which would 404; the
    script checks that every other \`url(\` points at a vendored file and that
    this one is used by no other rule.
  - the GOV.UK crown logotype in the header (GOV.UK Frontend's
    \`govukHeader\` draws it as inline SVG from \`macros/logo.njk\`, so it is
    not in these files; write the header's HTML with the council's name
    instead), or the footer's "© Crown copyright" link.

## Not vendored

- GOV.UK Frontend's branding images (Crown copyright; see "Licences and
  branding"), from \`dist/govuk/assets/images/\`: \`govuk-crest.svg\`,
  \`govuk-icon-180.png\`, \`govuk-icon-192.png\`, \`govuk-icon-512.png\`,
  \`govuk-icon-mask.svg\`, \`govuk-opengraph-image.png\`, \`favicon.ico\` and
  \`favicon.svg\` (replaced by cnis's own \`images/favicon.svg\`). So pages
  have no \`apple-touch-icon\`, \`mask-icon\` or \`og:image\` unless the council
  supplies its own.
- The GDS Transport fonts (\`dist/govuk/assets/fonts/\`).
- Source maps.
- GOV.UK Frontend's web app manifest (\`dist/govuk/assets/manifest.json\`,
  which lists the GOV.UK icons). Its page template links it as
  \`/assets/manifest.json\`; here that name is this folder's hash manifest,
  so pages must not emit \`<link rel="manifest" href="/assets/manifest.json">\`
  (nor the template's icon and \`og:image\` links).
  The server need not serve \`manifest.json\`, \`README.md\` or the licence
  files at all.
- MOJ Frontend's brand images (MOJ crest, logotype, touch icons), which
  \`cnis.css\` does not use.
EOF

# ---------------------------------------------------------------------------
# 7. Normalise, write manifest.json, then replace the outputs in the repo.
# ---------------------------------------------------------------------------
find "$stage" -type d -exec chmod 0755 {} +
find "$stage" -type f -exec chmod 0644 {} +

node "$work/tools/manifest.mjs" "$stage" "$work/package-lock.json" \
  "@ministryofjustice/frontend" "govuk-frontend" "sass"
chmod 0644 "$stage/manifest.json"

mkdir -p "$out_dir"
# Remove only what this script writes, so other files are left alone. The
# images/ folder is entirely the script's: any file there that this run did
# not produce (such as the GOV.UK branding images earlier versions vendored)
# is deleted. Outside images/, only the files named below are replaced.
if [ -d "$out_dir/images" ]; then
  for f in "$out_dir/images/"* "$out_dir/images/".[!.]*; do
    [ -e "$f" ] || continue
    name="$(basename "$f")"
    if [ ! -f "$stage/images/$name" ]; then
      log "removing images/$name (no longer produced)"
    fi
    rm -rf "$f"
  done
fi
for f in cnis.css govuk-frontend.min.js moj-frontend.min.js init.js manifest.json \
  README.md LICENCE-govuk-frontend.txt LICENCE-moj-frontend.txt; do
  rm -f "$out_dir/$f"
done
cp -R "$stage/." "$out_dir/"

log "wrote $(find "$out_dir" -type f | wc -l | tr -d ' ') files to ${out_dir#"$repo_root"/}"
