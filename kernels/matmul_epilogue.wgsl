// matmul_epilogue.wgsl — included by every matmul kernel (`//! include matmul_epilogue`): the
// output binding and the store of one output with the work src/ops/matmul-launch.ts fuses into it
// ({{EPILOGUE_DECL}} / {{EPILOGUE}}: linear's x·Wᵀ + b → ReLU).

//! include matmul_params

@group(0) @binding(3) var<storage, read_write> C: array<f32>;
{{EPILOGUE_DECL}}
// The value stored for output (m, n): v, or v + bias and/or an activation; m, n are this
// kernel's output coordinates.
fn epilogue(v: f32, m: u32, n: u32) -> f32 { return {{EPILOGUE}}; }

// Stores output (m, n) of batch entry `batch`.
fn store_c(batch: u32, m: u32, n: u32, v: f32) {
  C[batch * p.c_bstride + m * p.sc_m + n * p.sc_n] = epilogue(v, m, n);
}
