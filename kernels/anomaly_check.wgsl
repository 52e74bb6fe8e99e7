// anomaly_check.wgsl — anomaly detection (src/autograd/anomaly.ts): does a tensor hold a NaN or
// ±Inf? If any element does, the op's slot number is folded into flag[0] with atomicMin, so after
// many checks flag[0] names the FIRST op (lowest slot) that produced a non-finite value, and
// 0xffffffff means "all finite".
//
// Layout: x is any strided f32 view (shape, strides, element offset; the host collapses
// contiguous dimensions, so a contiguous tensor runs the division-free one-dimensional path).
// The test looks at the exponent bits rather than `x != x`, which a compiler may fold away
// (WGSL lets implementations assume there are no NaNs). One thread per element, no barriers.

struct Params {
  shape: array<vec4<u32>, 2>,    // up to 8 dims, row-major
  strides: array<vec4<u32>, 2>,  // element strides
  offset: u32,
  numel: u32,
  rank: u32,
  slot: u32,                     // this check's number since the last readback
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> flag: array<atomic<u32>>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= p.numel) { return; }
  var o = p.offset;
  if (p.rank <= 1u) {
    o += i * p.strides[0][0];
  } else {
    var rem = i;
    for (var d = i32(p.rank) - 1; d >= 0; d--) {
      let q = u32(d) >> 2u;
      let r = u32(d) & 3u;
      let n = p.shape[q][r];
      o += (rem % n) * p.strides[q][r];
      rem = rem / n;
    }
  }
  let bits = bitcast<u32>(x[o]);
  if ((bits & 0x7f800000u) == 0x7f800000u) {
    atomicMin(&flag[0], p.slot);
  }
}
