// A dependency-free SVG line chart for training curves (loss and kNN accuracy per epoch).

export interface Series {
  name: string;
  points: [number, number][];
  color: string;
}

export function lineChart(title: string, xLabel: string, panels: { yLabel: string; series: Series[] }[]): string {
  const W = 420;
  const H = 260;
  const pad = { l: 56, r: 16, t: 34, b: 40 };
  const svgParts: string[] = [];
  panels.forEach((panel, pi) => {
    const ox = pi * W;
    const all = panel.series.flatMap((s) => s.points);
    if (all.length === 0) return;
    const xs = all.map((p) => p[0]);
    const ys = all.map((p) => p[1]);
    const [x0, x1] = [Math.min(...xs), Math.max(...xs, Math.min(...xs) + 1)];
    let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
    if (y1 - y0 < 1e-9) [y0, y1] = [y0 - 1, y1 + 1];
    const sx = (x: number) => ox + pad.l + ((x - x0) / (x1 - x0)) * (W - pad.l - pad.r);
    const sy = (y: number) => pad.t + (1 - (y - y0) / (y1 - y0)) * (H - pad.t - pad.b);
    svgParts.push(
      `<rect x="${ox + pad.l}" y="${pad.t}" width="${W - pad.l - pad.r}" height="${H - pad.t - pad.b}" fill="none" stroke="#999"/>`,
    );
    for (let i = 0; i <= 4; i++) {
      const y = y0 + ((y1 - y0) * i) / 4;
      svgParts.push(
        `<text x="${ox + pad.l - 6}" y="${sy(y) + 4}" font-size="10" text-anchor="end">${y.toFixed(y1 - y0 < 5 ? 2 : 1)}</text>`,
      );
    }
    svgParts.push(`<text x="${ox + W / 2}" y="${H - 8}" font-size="11" text-anchor="middle">${xLabel}</text>`);
    svgParts.push(
      `<text x="${ox + 14}" y="${H / 2}" font-size="11" text-anchor="middle" transform="rotate(-90 ${ox + 14} ${H / 2})">${panel.yLabel}</text>`,
    );
    panel.series.forEach((s, si) => {
      if (s.points.length === 0) return;
      const d = s.points.map((p, i) => `${i ? 'L' : 'M'}${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(' ');
      svgParts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"/>`);
      for (const p of s.points)
        svgParts.push(`<circle cx="${sx(p[0]).toFixed(1)}" cy="${sy(p[1]).toFixed(1)}" r="2.5" fill="${s.color}"/>`);
      svgParts.push(`<text x="${ox + pad.l + 8}" y="${pad.t + 14 + si * 13}" font-size="11" fill="${s.color}">${s.name}</text>`);
    });
  });
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W * panels.length}" height="${H}" font-family="sans-serif">` +
    `<text x="${(W * panels.length) / 2}" y="18" font-size="13" text-anchor="middle">${title}</text>${svgParts.join('')}</svg>\n`
  );
}
