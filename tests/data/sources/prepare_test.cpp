#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>

#include "data/store/loader.h"
#include "data/sources/prepare.h"
#include "data/store/token_store_writer.h"
#include "data/tokenizers/tokenizer.h"
#include "tests/app/run_command.h"
#include "tests/data/sources/prepare_fixture.h"
#include "tests/tmpfs_disk.h"

namespace fs = std::filesystem;
using hmt::test::document_text;

namespace {

fs::path copy_fixture(const std::string& relative, const fs::path& dir) {
  fs::copy(hmt::test::fixtures() / "data" / relative, dir / relative, fs::copy_options::recursive);
  return dir / relative;
}

}  // namespace

TEST_CASE("prepare: a second run with the same inputs does nothing, changed inputs redo it", "[data][prepare]") {
  auto dir = hmt::test::temp_dir("prepare_rerun");
  auto source = copy_fixture("pg19", dir);
  auto options = hmt::test::prepare_fixture_options("pg19", source, dir / "p.h5");
  auto first = hmt::prepare_dataset(options);
  CHECK(!first.up_to_date);
  CHECK(!fs::exists(dir / "p.h5.partial"));
  const auto written = fs::last_write_time(dir / "p.h5");
  auto second = hmt::prepare_dataset(options);
  CHECK(second.up_to_date);
  CHECK(second.source_bytes == 0);
  CHECK(fs::last_write_time(dir / "p.h5") == written);
  REQUIRE(second.splits.size() == 3);
  CHECK(second.splits[0].second.documents == 2);

  hmt::test::write_text(source / "train/102.txt", "Rewritten.\n");
  auto third = hmt::prepare_dataset(options);
  CHECK(!third.up_to_date);
  CHECK(document_text(hmt::TokenStore(third.out).split("train"), 1) == "Rewritten.\n");
  options.add_eos = true;  // options count as inputs too
  auto fourth = hmt::prepare_dataset(options);
  CHECK(!fourth.up_to_date);
  CHECK(hmt::TokenStore(fourth.out).split("train").read_document(1).back() == 256);  // <|endoftext|>
}

TEST_CASE("prepare: an interrupted run continues from OUT.partial, keeping finished work", "[data][prepare][resume]") {
  auto dir = hmt::test::temp_dir("prepare_resume");
  auto options = hmt::test::prepare_fixture_options("pg19", copy_fixture("pg19", dir), dir / "p.h5");
  const std::string hash = hmt::prepare_inputs_sha256(options);
  // What a run killed in the middle of `validation` leaves: train done, validation
  // not begun. The marker document in train proves that the next run keeps it.
  {
    hmt::StoreHeader header;
    header.dataset = "pg19";
    header.inputs_sha256 = hash;
    hmt::TokenStoreWriter writer(options.out + ".partial", header);
    auto train = writer.begin_split("train", /*qa=*/false, {});
    train.add_document("marker", {1, 2, 3});
    train.mark_units(2, {});
    train.finish();
    auto validation = writer.begin_split("validation", false, {});
    validation.mark_units(0, {});
    validation.commit();
  }
  CHECK_THROWS_WITH(hmt::TokenStore(options.out + ".partial"), Catch::Contains("incomplete"));
  auto result = hmt::prepare_dataset(options);
  CHECK(result.resumed);
  hmt::TokenStore store(result.out);
  CHECK(store.split("train").documents() == 1);
  CHECK(store.split("train").document_name(0) == "marker");
  CHECK(document_text(store.split("validation"), 0) == hmt::test::slurp(dir / "pg19/validation/103.txt"));
  CHECK(!fs::exists(options.out + ".partial"));

  // Other inputs (here one more option) never continue a partial file of these.
  auto other = options;
  other.out = (dir / "q.h5").string();
  other.add_eos = true;
  hmt::StoreHeader header;
  header.inputs_sha256 = hash;
  { hmt::TokenStoreWriter(other.out + ".partial", header).begin_split("train", false, {}).finish(); }
  CHECK(!hmt::prepare_dataset(other).resumed);
}

TEST_CASE("prepare: a failing run leaves no OUT, a foreign OUT is never replaced", "[data][prepare][errors]") {
  auto dir = hmt::test::temp_dir("prepare_fail");
  hmt::test::write_text(dir / "c.jsonl", "{\"text\": \"a\"}\n{\"text\": \"b\"}\n{\"text\": \"c\"}\n{broken\n");
  auto options = hmt::test::prepare_fixture_options("text", dir / "c.jsonl", dir / "o.h5");
  options.splits = {"train", "validation"};
  options.split_fractions = {0.5, 0.5};
  CHECK_THROWS_WITH(hmt::prepare_dataset(options), Catch::Contains("c.jsonl:4:2: malformed JSON"));
  CHECK(!fs::exists(dir / "o.h5"));
  CHECK_THROWS_WITH(hmt::TokenStore((dir / "o.h5.partial").string()), Catch::Contains("incomplete"));

  hmt::test::write_text(dir / "notes.h5", "my own notes\n");
  options.out = (dir / "notes.h5").string();
  hmt::test::write_text(dir / "c.jsonl", "{\"text\": \"a\"}\n{\"text\": \"b\"}\n");
  CHECK_THROWS_WITH(hmt::prepare_dataset(options),
                    Catch::Contains("notes.h5: exists and is not a prepared token file"));
  CHECK(hmt::test::slurp(dir / "notes.h5") == "my own notes\n");

  options.out = (dir / "o.h5").string();
  options.add_bos = false;
  options.tokenizer = (dir / "missing.json").string();
  CHECK_THROWS(hmt::prepare_dataset(options));
  options.tokenizer = hmt::test::bytes_tokenizer();
  options.dataset = "books";
  CHECK_THROWS_WITH(hmt::prepare_dataset(options), Catch::Contains("\"books\" is not one of"));
}

TEST_CASE("prepare: the loader reads a prepared PG-19 sample as the tokenizer encodes it",
          "[data][prepare][loader][shared]") {
  HMT_REQUIRE_SHARED("pg19/metadata.csv");
  HMT_REQUIRE_SHARED("tokenizers/gpt2/tokenizer.json");
  auto dir = hmt::test::temp_dir("prepare_loader_shared");
  auto options = hmt::test::prepare_fixture_options("pg19", hmt::test::shared_data() / "pg19", dir / "p.h5");
  options.tokenizer = (hmt::test::shared_data() / "tokenizers/gpt2/tokenizer.json").string();
  options.splits = {"test"};
  auto result = hmt::prepare_dataset(options);
  auto tokenizer = hmt::load_tokenizer(options.tokenizer);
  const auto book = tokenizer->encode(hmt::test::slurp(hmt::test::shared_data() / "pg19/test/36.txt"));
  hmt::LoaderOptions lo;
  lo.path = result.out;
  lo.split = "test";
  lo.segments = 4;
  lo.segment_length = 256;
  lo.batch_size = 2;
  lo.shuffle = false;
  lo.tokenizer_fingerprint = tokenizer->fingerprint();
  hmt::Loader loader(lo);
  CHECK(loader.samples_per_epoch() == static_cast<int64_t>((book.size() - 1) / 1024));
  auto batch = loader.next();
  for (int64_t r = 0; r < 2; ++r)
    for (int64_t t = 0; t < 1025; ++t) REQUIRE(batch.ids[r][t].item<int64_t>() == book[r * 1024 + t]);
}

TEST_CASE("prepare: a full disk is an error naming the file, no partial file, the earlier output intact",
          "[data][prepare]") {
  auto dir = hmt::test::temp_dir("prepare_full_disk");
  // 4 MB of text: 17 MB of int32 ids under the byte tokenizer, far more than the disk.
  fs::create_directories(dir / "corpus");
  {
    std::ofstream text(dir / "corpus" / "big.txt");
    for (int i = 0; i < 200000; ++i) text << "line " << i << " of filler\n";
  }
  const hmt::test::TmpfsDisk disk_mount(dir / "disk", "1m");
  if (!disk_mount.mounted()) {
    WARN("skipped: cannot mount a tmpfs here (not root?)");
    return;
  }
  const fs::path disk = disk_mount.path();
  // The earlier output: a small prepared file under the same name.
  const fs::path out = disk / "p.h5";
  hmt::prepare_dataset(hmt::test::prepare_fixture_options("text", hmt::test::fixtures() / "data" / "text" / "folder",
                                                          dir / "small.h5"));
  fs::copy_file(dir / "small.h5", out);
  const std::string earlier = hmt::test::slurp(out);
  auto options = hmt::test::prepare_fixture_options("text", dir / "corpus", out);
  CHECK_THROWS_WITH(hmt::prepare_dataset(options), Catch::Contains("No space left on device") &&
                                                       Catch::Contains(out.string() + ": not written") &&
                                                       Catch::Contains("was removed and the earlier"));
  CHECK_FALSE(fs::exists(out.string() + ".partial"));
  CHECK(hmt::test::slurp(out) == earlier);

  // The command: a clean error and exit 1, not a crash at exit (HDF5's atexit handler).
  auto cli = hmt::test::run_hmt("prepare --dataset text --source '" + (dir / "corpus").string() + "' --tokenizer '" +
                                hmt::test::bytes_tokenizer() + "' --out '" + out.string() + "' --threads 1 --quiet");
  CHECK(cli.exit_code == 1);
  CHECK_THAT(cli.err, Catch::Contains(out.string()));
  CHECK_FALSE(fs::exists(out.string() + ".partial"));
  CHECK(hmt::test::slurp(out) == earlier);
}
