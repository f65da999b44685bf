//! Test-only helpers shared by the integration tests of several crates (a dev-dependency,
//! never published): the mutation fuzzer used by `fuzz_decode` (image), `fuzz_data` (data) and
//! `fuzz_inputs` (vladapt).
pub mod fuzz;
