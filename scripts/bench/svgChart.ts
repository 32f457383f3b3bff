// A small horizontal bar chart of RPS per row, as hand-written SVG (no dependency).
import type { Row } from "./report.js";

const COLORS: Record<string, string> = {
  "no-op": "#888888",
  memory: "#2b8cbe",
  file: "#41ab5d",
  redis: "#e6550d",
  "redis-hash": "#d62728",
  "express-session": "#756bb1",
};

function escapeXml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

export function svgChart(rows: readonly Row[], title: string): string {
  const barH = 16;
  const gap = 4;
  const labelW = 300;
  const chartW = 420;
  const top = 36;
  const max = Math.max(1, ...rows.map((r) => r.rps));
  const height = top + rows.length * (barH + gap) + 24;
  const width = labelW + chartW + 90;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11" role="img" aria-labelledby="title">`,
    `<title id="title">${escapeXml(title)}</title>`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="8" y="20" font-size="14" font-weight="bold">${escapeXml(title)}</text>`,
  ];
  rows.forEach((row, i) => {
    const y = top + i * (barH + gap);
    const w = Math.max(1, Math.round((row.rps / max) * chartW));
    const color = COLORS[row.server] ?? "#555555";
    const label = `${row.server} ${row.op} ${row.shape} (${row.sessions})`;
    parts.push(
      `<text x="${labelW - 6}" y="${y + barH - 4}" text-anchor="end">${escapeXml(label)}</text>`,
      `<rect x="${labelW}" y="${y}" width="${w}" height="${barH}" fill="${color}"/>`,
      `<text x="${labelW + w + 4}" y="${y + barH - 4}">${Math.round(row.rps).toLocaleString("en-US")}</text>`,
    );
  });
  parts.push(
    `<text x="${labelW}" y="${height - 8}" fill="#555555">requests per second (server on one core; higher is better)</text>`,
    "</svg>",
  );
  return `${parts.join("\n")}\n`;
}
