// adamw.wgsl — one AdamW or Adam step for one parameter, updating the parameter and both moment
// estimates in place, in PyTorch's order (torch.optim.AdamW / Adam, single-tensor path, amsgrad off):
//   g = g + l2 * p                                 Adam's L2 weight decay (l2 = 0 for AdamW)
//   p = p * decay                                  AdamW's decoupled decay 1 - lr * weightDecay (1 for Adam)
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * g * g
//   p = p - stepSize * m / (sqrt(v) / sqrt(bc2) + eps)
// with stepSize = lr / (1 - beta1^t) and bc2 = 1 - beta2^t computed on the host in float64
// (t is the step count of this parameter), as PyTorch does in Python floats.
//
// Layout: param, grad, m and v are contiguous f32 runs starting at the given element offsets.
// One thread per element, no barriers; hyper-parameters are uniforms (one pipeline for all).
//
// Template parameters: WG workgroup size.

struct Params {
  n: u32,
  off_p: u32,
  off_g: u32,
  off_m: u32,
  off_v: u32,
  decay: f32,          // 1 - lr * weightDecay
  beta1: f32,
  beta2: f32,
  one_minus_beta1: f32,
  one_minus_beta2: f32,
  step_size: f32,      // lr / (1 - beta1^t)
  bc2_sqrt: f32,       // sqrt(1 - beta2^t)
  eps: f32,
  l2: f32,             // Adam's weightDecay (0 for AdamW)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> exp_avg: array<f32>;
@group(0) @binding(4) var<storage, read_write> exp_avg_sq: array<f32>;

@compute @workgroup_size({{WG}})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * {{WG}}u;
  if (i >= p.n) { return; }
  let w0 = param[p.off_p + i];
  let g = grad[p.off_g + i] + p.l2 * w0;
  let w = w0 * p.decay;
  let m = p.beta1 * exp_avg[p.off_m + i] + p.one_minus_beta1 * g;
  let v = p.beta2 * exp_avg_sq[p.off_v + i] + p.one_minus_beta2 * (g * g);
  exp_avg[p.off_m + i] = m;
  exp_avg_sq[p.off_v + i] = v;
  let denom = sqrt(v) / p.bc2_sqrt + p.eps;
  param[p.off_p + i] = w - p.step_size * (m / denom);
}
