// The seeds of a run: each stage kind reads its own data order (no replay of
// the previous stage's batches), the backbone stage runtime.seed's.
#include <catch2/catch.hpp>

#include <set>

#include "data/store/loader.h"
#include "tests/data/store/store_fixture.h"
#include "tests/test_paths.h"
#include "trainer/run_seeds.h"

TEST_CASE("run seeds: stage data seeds differ per stage kind, the backbone stage's is runtime.seed", "[trainer]") {
  using hmt::StageKind;
  CHECK(hmt::stage_data_seed(1234, StageKind::Backbone) == 1234);
  std::set<uint64_t> seeds;
  for (auto kind : {StageKind::Backbone, StageKind::Stage1, StageKind::Stage2})
    seeds.insert(hmt::stage_data_seed(1234, kind));
  CHECK(seeds.size() == 3);
  CHECK(hmt::stage_data_seed(1234, StageKind::Stage2) != hmt::stage_data_seed(1235, StageKind::Stage2));
  // Step seeds differ by stage, step and rank.
  CHECK(hmt::step_seed(7, 0, 0, 0) != hmt::step_seed(7, 1, 0, 0));
  CHECK(hmt::step_seed(7, 0, 0, 0) != hmt::step_seed(7, 0, 1, 0));
  CHECK(hmt::step_seed(7, 0, 0, 0) != hmt::step_seed(7, 0, 0, 1));
}

TEST_CASE("run seeds: two stages with the same S read different first batches", "[trainer]") {
  const auto path = hmt::test::write_lm_store((hmt::test::temp_dir("run_seeds") / "s.h5").string(),
                                              {400, 300, 500, 350});
  auto first_samples = [&](hmt::StageKind kind) {
    hmt::LoaderOptions o;
    o.path = path;
    o.segments = 2;
    o.segment_length = 8;
    o.batch_size = 4;
    o.seed = hmt::stage_data_seed(99, kind);
    hmt::Loader loader(o);
    return loader.next().samples;
  };
  CHECK(first_samples(hmt::StageKind::Stage1) != first_samples(hmt::StageKind::Stage2));
  CHECK(first_samples(hmt::StageKind::Backbone) != first_samples(hmt::StageKind::Stage1));
  CHECK(first_samples(hmt::StageKind::Stage2) == first_samples(hmt::StageKind::Stage2));
}
