// sgd.wgsl — one SGD-with-momentum step for one parameter, updating the parameter and its
// momentum buffer in place, in PyTorch's order (torch.optim.SGD, single-tensor path):
//   d = g + weightDecay * p
//   b = d                                   on the first step (first = 1)
//   b = momentum * b + (1 - dampening) * d  afterwards
//   d = d + momentum * b  (nesterov)  or  d = b
//   p = p - lr * d
// SGD without momentum has no buffer and uses the generic elementwise kernel instead.
//
// Layout: param, grad and buffer are contiguous f32 runs starting at the given element offsets.
// One thread per element, no barriers. Hyper-parameters are uniforms, so one pipeline serves
// every parameter and every setting (lavapipe and discrete GPUs alike).
//
// Template parameters: WG workgroup size.

struct Params {
  n: u32,
  off_p: u32,
  off_g: u32,
  off_b: u32,
  lr: f32,
  momentum: f32,
  dampening: f32,
  weight_decay: f32,
  nesterov: u32,
  first: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> buf: array<f32>;

@compute @workgroup_size({{WG}})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * {{WG}}u;
  if (i >= p.n) { return; }
  let w = param[p.off_p + i];
  var d = grad[p.off_g + i];
  if (p.weight_decay != 0.0) { d = d + p.weight_decay * w; }
  var b = d;
  if (p.first == 0u) { b = p.momentum * buf[p.off_b + i] + (1.0 - p.dampening) * d; }
  buf[p.off_b + i] = b;
  if (p.nesterov != 0u) { d = d + p.momentum * b; } else { d = b; }
  param[p.off_p + i] = w - p.lr * d;
}
