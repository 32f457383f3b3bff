export const README_START =
  "<!-- reliability:start (written by npm run reliability; do not edit by hand) -->";
export const README_END = "<!-- reliability:end -->";

/** The README with what stands between the reliability markers replaced by `markdown`. */
export function withReliabilitySection(readme: string, markdown: string): string {
  const start = readme.indexOf(README_START);
  const end = readme.indexOf(README_END);
  if (start < 0 || end < start) {
    throw new Error(`README.md lacks the markers ${README_START} ... ${README_END}`);
  }
  return `${readme.slice(0, start)}${README_START}\n\n${markdown.trim()}\n\n${readme.slice(end)}`;
}
