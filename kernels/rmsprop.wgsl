// rmsprop.wgsl — one RMSprop step for one parameter, in PyTorch's order (torch.optim.RMSprop,
// single-tensor path), updating the parameter and its state in place:
//   g = g + weightDecay * p
//   sq = alpha * sq + (1 - alpha) * g * g
//   centered:  ga = alpha * ga + (1 - alpha) * g;  avg = sqrt(sq - ga * ga) + eps
//   otherwise: avg = sqrt(sq) + eps
//   momentum > 0: buf = momentum * buf + g / avg;  p = p - lr * buf
//   otherwise:    p = p - lr * g / avg
// grad_avg and momentum_buffer are only touched when centered / momentum > 0 (the host binds a
// one-element placeholder otherwise).
//
// Layout: every operand is a contiguous f32 run starting at its element offset. One thread per
// element, no barriers. Template parameters: WG workgroup size.

struct Params {
  n: u32,
  off_p: u32,
  off_g: u32,
  off_sq: u32,
  off_ga: u32,
  off_buf: u32,
  centered: u32,
  use_momentum: u32,
  lr: f32,
  alpha: f32,
  eps: f32,
  weight_decay: f32,
  momentum: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> square_avg: array<f32>;
@group(0) @binding(4) var<storage, read_write> grad_avg: array<f32>;
@group(0) @binding(5) var<storage, read_write> momentum_buffer: array<f32>;

@compute @workgroup_size({{WG}})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * {{WG}}u;
  if (i >= p.n) { return; }
  let w = param[p.off_p + i];
  let g = grad[p.off_g + i] + p.weight_decay * w;
  let sq = p.alpha * square_avg[p.off_sq + i] + (1.0 - p.alpha) * (g * g);
  square_avg[p.off_sq + i] = sq;
  var avg: f32;
  if (p.centered == 1u) {
    let ga = p.alpha * grad_avg[p.off_ga + i] + (1.0 - p.alpha) * g;
    grad_avg[p.off_ga + i] = ga;
    avg = sqrt(sq - ga * ga) + p.eps;
  } else {
    avg = sqrt(sq) + p.eps;
  }
  if (p.use_momentum == 1u) {
    let buf = p.momentum * momentum_buffer[p.off_buf + i] + g / avg;
    momentum_buffer[p.off_buf + i] = buf;
    param[p.off_p + i] = w - p.lr * buf;
  } else {
    param[p.off_p + i] = w - p.lr * (g / avg);
  }
}
