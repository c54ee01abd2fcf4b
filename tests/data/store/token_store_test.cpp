#include <catch2/catch.hpp>
#include <hdf5.h>

#include <filesystem>
#include <fstream>

#include "data/store/hdf5_io.h"
#include "data/store/loader.h"
#include "data/store/token_store.h"
#include "data/store/token_store_layout.h"
#include "tests/data/store/store_fixture.h"
#include "tests/test_paths.h"

namespace fs = std::filesystem;

namespace {

hmt::QaSample qa(const std::string& name, int64_t length, int64_t answer_start, int label, int64_t group) {
  hmt::QaSample s;
  s.name = name;
  s.ids = hmt::test::numbered_document(std::stoi(name), length);
  s.answer_start = answer_start;
  s.label = label;
  s.group = group;
  for (int c = 0; c < 3; ++c) s.choices[c] = {static_cast<int32_t>(900 + c), static_cast<int32_t>(910 + c)};
  s.choices[2].push_back(920);
  return s;
}

std::string write_qa_store(const std::string& path) {
  hmt::TokenStoreWriter writer(path, hmt::test::fixture_header());
  hmt::SplitWriter out = writer.begin_split("test", /*qa=*/true, {{"ori_pqal.json", "ab", 10}});
  out.add_qa_sample(qa("1", 5, 3, 0, 0));
  auto second = qa("2", 8, 5, 2, 0);
  second.distance = 3;
  second.other_distances = {1, 4};
  out.add_qa_sample(second);
  out.add_qa_sample(qa("3", 3, 1, -1, 1));
  out.mark_units(3, {});
  out.finish();
  writer.finish({"test"});
  return path;
}

void set_int_attribute(const std::string& path, const char* name, int64_t value) {
  hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  REQUIRE(file >= 0);
  hmt::h5::write_attribute(file, name, value);
  H5Fclose(file);
}

using hmt::test::row;

}  // namespace

TEST_CASE("token store: documents, ranges and attributes round-trip", "[data][store]") {
  auto dir = hmt::test::temp_dir("store_roundtrip");
  auto path = hmt::test::write_lm_store((dir / "d.h5").string(), {3, 70000, 1, 12});
  hmt::TokenStore store(path);
  CHECK(store.format_version() == 1);
  CHECK(store.dataset() == "text");
  CHECK(store.tokenizer_fingerprint() == "fixture-fingerprint");
  CHECK(store.vocab_size() == 100000);
  CHECK(store.eos_id() == 99999);
  CHECK(!store.bos_id().has_value());
  CHECK(store.filler_id() == 77777);
  CHECK(store.splits() == std::vector<std::string>{"train"});
  const auto& split = store.split("train");
  CHECK(!split.is_qa());
  CHECK(split.documents() == 4);
  CHECK(split.tokens() == 70016);
  CHECK(split.offsets() == std::vector<uint64_t>{0, 3, 70003, 70004, 70016});
  CHECK(split.document_length(1) == 70000);
  // A range across the 32768-token chunk boundaries of document 1.
  auto middle = split.read_document(1, 32760, 30000);
  REQUIRE(middle.size() == 30000);
  CHECK(middle.front() == 1000 + 32760);
  CHECK(middle.back() == 1000 + 62759);
  // The stream crosses documents: end of doc 2, all of doc 3.
  CHECK(split.read(70003, 3) == std::vector<int32_t>{2000, 3000, 3001});
  CHECK(split.document_name(3) == "doc3");
  auto sources = split.sources();
  REQUIRE(sources.size() == 1);
  CHECK(sources[0].path == "a.txt");
  CHECK(split.counts().documents == 4);
  CHECK_THROWS_WITH(split.read_document(4), Catch::Contains("document 4 out of range [0, 4)"));
  CHECK_THROWS_WITH(split.qa_sample(0), Catch::Contains("holds language-model documents"));
}

TEST_CASE("token store: QA samples keep answer starts, labels and choices", "[data][store][pubmedqa]") {
  auto dir = hmt::test::temp_dir("store_qa");
  hmt::TokenStore store(write_qa_store((dir / "qa.h5").string()));
  const auto& split = store.split("test");
  REQUIRE(split.is_qa());
  auto s = split.qa_sample(1);
  CHECK(s.name == "2");
  CHECK(s.ids == hmt::test::numbered_document(2, 8));
  CHECK(s.answer_start == 5);
  CHECK(s.label == 2);
  CHECK(s.group == 0);
  CHECK(s.choices[0] == std::vector<int32_t>{900, 910});
  CHECK(s.choices[2] == std::vector<int32_t>{902, 912, 920});
  CHECK(split.label(2) == -1);
  CHECK(split.qa_sample(2).group == 1);
  CHECK(s.distance == 3);
  CHECK(s.other_distances == std::vector<int64_t>{1, 4});
  CHECK(split.other_distances(0).empty());
  CHECK(split.other_distances(2).empty());
  CHECK(split.distance(0) == -1);
}

TEST_CASE("token store: files written before the other facts' distances read as none", "[data][store]") {
  auto dir = hmt::test::temp_dir("store_qa_old");
  const auto path = write_qa_store((dir / "qa.h5").string());
  {
    hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    REQUIRE(file >= 0);
    for (const char* name : {hmt::store::kOtherFactOffsets, hmt::store::kOtherFactDistances})
      REQUIRE(H5Ldelete(file, (std::string("/test/") + name).c_str(), H5P_DEFAULT) >= 0);
    H5Fclose(file);
  }
  hmt::TokenStore store(path);
  CHECK(store.split("test").qa_sample(1).other_distances.empty());
  CHECK(store.split("test").distance(1) == 3);
}

TEST_CASE("token store writer: an interrupted QA split keeps the other facts' distances of its marked samples",
          "[data][store][resume]") {
  auto dir = hmt::test::temp_dir("store_qa_resume");
  const std::string path = (dir / "part.h5").string();
  auto sample = [](const std::string& name, std::vector<int64_t> others) {
    auto s = qa(name, 6, 4, -1, 0);
    s.distance = 2;
    s.other_distances = std::move(others);
    return s;
  };
  {
    hmt::TokenStoreWriter writer(path, hmt::test::fixture_header());
    auto split = writer.begin_split("test", /*qa=*/true, {});
    split.add_qa_sample(sample("1", {1, 3}));
    split.mark_units(1, {});
    split.commit();
  }
  {  // a crash after the data of a next sample, before its marks
    hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    REQUIRE(file >= 0);
    hmt::h5::append(hmt::h5::open_dataset(file, "/test/other_fact_offsets").get(), std::vector<uint64_t>{5});
    hmt::h5::append(hmt::h5::open_dataset(file, "/test/other_fact_distances").get(), std::vector<int64_t>{5, 6, 7});
    H5Fclose(file);
  }
  {
    hmt::TokenStoreWriter writer(path, hmt::test::fixture_header());
    REQUIRE(writer.resumed());
    auto split = writer.begin_split("test", /*qa=*/true, {});
    CHECK(split.units_done() == 1);
    split.add_qa_sample(sample("3", {1}));
    split.mark_units(2, split.counts());
    split.finish();
    writer.finish({"test"});
  }
  hmt::TokenStore store(path);
  const auto& split = store.split("test");
  REQUIRE(split.documents() == 2);
  CHECK(split.other_distances(0) == std::vector<int64_t>{1, 3});
  CHECK(split.other_distances(1) == std::vector<int64_t>{1});
}

TEST_CASE("loader: QA batches are left-padded with the answers as the only scored tokens", "[data][loader][pubmedqa]") {
  auto dir = hmt::test::temp_dir("loader_qa");
  hmt::LoaderOptions o;
  o.path = write_qa_store((dir / "qa.h5").string());
  o.split = "test";
  o.batch_size = 3;
  o.shuffle = false;
  hmt::Loader loader(o);
  REQUIRE(loader.samples_per_epoch() == 3);
  auto batch = loader.next();
  CHECK(!batch.trailing_label);
  REQUIRE(batch.ids.sizes() == torch::IntArrayRef({3, 8}));
  const int64_t pad = 99999;  // the file's eos id
  CHECK(row(batch.ids, 0) == std::vector<int64_t>{pad, pad, pad, 1000, 1001, 1002, 1003, 1004});
  CHECK(row(batch.mask, 0) == std::vector<int64_t>{0, 0, 0, 1, 1, 1, 1, 1});
  CHECK(row(batch.score_mask, 0) == std::vector<int64_t>{0, 0, 0, 0, 0, 0, 1, 1});
  CHECK(row(batch.ids, 1) == std::vector<int64_t>{2000, 2001, 2002, 2003, 2004, 2005, 2006, 2007});
  CHECK(row(batch.mask, 1) == std::vector<int64_t>(8, 1));
  CHECK(row(batch.score_mask, 1) == std::vector<int64_t>{0, 0, 0, 0, 0, 1, 1, 1});
  CHECK(row(batch.score_mask, 2) == std::vector<int64_t>{0, 0, 0, 0, 0, 0, 1, 1});
  o.interleave_len = 4;
  CHECK_THROWS_WITH(hmt::Loader(o), Catch::Contains("holds QA samples"));
}

TEST_CASE("token store: foreign, truncated, other-version and unfinished files are refused", "[data][store][errors]") {
  auto dir = hmt::test::temp_dir("store_errors");
  const std::string missing = (dir / "none.h5").string();
  CHECK_THROWS_WITH(hmt::TokenStore(missing), missing + ": no such prepared data file (run hmt prepare)");

  const std::string text = (dir / "notes.h5").string();
  std::ofstream(text) << "not hdf5 at all\n";
  CHECK_THROWS_WITH(hmt::TokenStore(text), Catch::Contains(text + ": not an HDF5 file"));

  const std::string good = hmt::test::write_lm_store((dir / "good.h5").string(), {50000, 20});
  const std::string truncated = (dir / "truncated.h5").string();
  fs::copy_file(good, truncated);
  fs::resize_file(truncated, fs::file_size(good) / 2);
  CHECK_THROWS_WITH(hmt::TokenStore(truncated), Catch::Contains(truncated + ": cannot open the HDF5 file (truncated"));

  const std::string foreign = (dir / "foreign.h5").string();
  H5Fclose(H5Fcreate(foreign.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
  CHECK_THROWS_WITH(hmt::TokenStore(foreign),
                    foreign + ": not an hmt token file (attribute `format` is missing, expected \"hmt.tokens\")");

  const std::string future = (dir / "future.h5").string();
  fs::copy_file(good, future);
  set_int_attribute(future, hmt::store::kVersion, 2);
  CHECK_THROWS_WITH(hmt::TokenStore(future),
                    Catch::Contains(future + ": format version 2, but this build reads version 1"));

  const std::string unfinished = (dir / "unfinished.h5").string();
  {
    hmt::TokenStoreWriter writer(unfinished, hmt::test::fixture_header());
    auto split = writer.begin_split("train", false, {});
    split.add_document("a", {1, 2, 3});
    split.mark_units(1, {});
    split.commit();
  }  // interrupted: neither the split nor the file is marked complete
  CHECK_THROWS_WITH(hmt::TokenStore(unfinished),
                    Catch::Contains(unfinished + ": incomplete (hmt prepare did not finish writing it)"));
}

TEST_CASE("token store writer: an interrupted split continues from its last mark", "[data][store][resume]") {
  auto dir = hmt::test::temp_dir("store_resume");
  const std::string path = (dir / "part.h5").string();
  {
    hmt::TokenStoreWriter writer(path, hmt::test::fixture_header());
    auto split = writer.begin_split("train", false, {});
    split.add_document("d0", hmt::test::numbered_document(0, 4));
    split.add_document("d1", hmt::test::numbered_document(1, 6));
    hmt::PrepareCounts skips;
    skips.skipped_empty = 1;
    split.mark_units(3, skips);  // units 0..2 done: two documents and one empty one
    split.commit();
    split.add_document("d2", hmt::test::numbered_document(2, 5));  // never marked: lost with the crash
  }
  {
    hmt::TokenStoreWriter writer(path, hmt::test::fixture_header());
    REQUIRE(writer.resumed());
    auto split = writer.begin_split("train", false, {});
    CHECK(split.units_done() == 3);
    CHECK(split.counts().documents == 2);
    CHECK(split.counts().skipped_empty == 1);
    split.add_document("d2", hmt::test::numbered_document(2, 5));
    split.mark_units(4, split.counts());
    split.finish();
    writer.finish({"train"});
  }
  hmt::TokenStore store(path);
  const auto& split = store.split("train");
  CHECK(split.offsets() == std::vector<uint64_t>{0, 4, 10, 15});
  CHECK(split.read_document(2) == hmt::test::numbered_document(2, 5));
  CHECK(split.document_name(2) == "d2");
  CHECK(split.counts().skipped_empty == 1);
  // An unfinished file of other inputs is never continued: it starts over.
  const std::string other = (dir / "other.h5").string();
  {
    hmt::TokenStoreWriter writer(other, hmt::test::fixture_header());
    auto split = writer.begin_split("train", false, {});
    split.add_document("d0", {1, 2});
    split.mark_units(1, {});
    split.commit();
  }
  auto header = hmt::test::fixture_header();
  header.inputs_sha256 = "other";
  hmt::TokenStoreWriter fresh(other, header);
  CHECK(!fresh.resumed());
  CHECK(!fresh.split_complete("train"));
  CHECK(fresh.begin_split("train", false, {}).units_done() == 0);
}
