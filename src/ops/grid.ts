// Dispatch geometry: how many workgroups along each dimension.

/** Splits `groups` workgroups over x and y so neither exceeds the 65535 limit. */
export function grid(groups: number): [number, number] {
  if (groups <= 65535) return [groups, 1];
  const y = Math.ceil(groups / 65535);
  return [Math.ceil(groups / y), y];
}
