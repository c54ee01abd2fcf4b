#include <catch2/catch.hpp>

#include <cstring>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/atomic_file.h"
#include "model/safetensors.h"
#include "tests/test_paths.h"

namespace fs = std::filesystem;
using Catch::Contains;

namespace {

void write_bytes(const fs::path& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

std::string le64(uint64_t n) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out;
}

// A file assembled by hand from header text and data bytes (no padding).
fs::path raw_file(const fs::path& dir, const std::string& header, const std::string& data) {
  auto path = dir / "raw.safetensors";
  write_bytes(path, le64(header.size()) + header + data);
  return path;
}

std::string tensor_bytes(const torch::Tensor& t) {
  auto c = t.contiguous();
  return std::string(static_cast<const char*>(c.data_ptr()), c.numel() * c.element_size());
}

}  // namespace

TEST_CASE("safetensors: every dtype round-trips bit-identically", "[safetensors]") {
  auto dir = hmt::test::temp_dir("st_dtypes");
  torch::manual_seed(1);
  auto f = torch::randn({3, 5});
  f[0][0] = std::numeric_limits<float>::quiet_NaN();
  f[0][1] = -0.0f;
  hmt::NamedTensors tensors = {
      {"f32", f},
      {"f16", f.to(torch::kFloat16)},
      {"bf16", f.to(torch::kBFloat16)},
      {"f64", torch::randn({2, 2}, torch::kFloat64)},
      {"i64", torch::tensor({INT64_MIN, int64_t{-1}, INT64_MAX})},
      {"i32", torch::randint(-100000, 100000, {4}, torch::kInt32)},
      {"i16", torch::randint(-30000, 30000, {2, 3}, torch::kInt16)},
      {"i8", torch::randint(-128, 127, {7}, torch::kInt8)},
      {"u8", torch::randint(0, 255, {7}, torch::kUInt8)},
      {"bool", torch::tensor({true, false, true})},
      {"scalar", torch::tensor(3.5)},
      {"empty", torch::zeros({0, 4})},
      {"transposed", f.t()},  // non-contiguous input is written in logical order
  };
  hmt::save_safetensors((dir / "all.safetensors").string(), tensors);
  hmt::SafetensorsFile file((dir / "all.safetensors").string());
  REQUIRE(file.names().size() == tensors.size());
  for (const auto& [name, t] : tensors) {
    INFO(name);
    auto back = file.get(name);
    REQUIRE(back.scalar_type() == t.scalar_type());
    REQUIRE(back.sizes() == t.sizes());
    REQUIRE(tensor_bytes(back) == tensor_bytes(t));
  }
  REQUIRE(file.entry("i16").dtype == torch::kInt16);
  // Asking for another dtype converts (a copy), with the values of .to().
  auto converted = file.get("bf16", torch::kFloat32);
  REQUIRE(converted.scalar_type() == torch::kFloat32);
  REQUIRE(tensor_bytes(converted) == tensor_bytes(tensors[2].second.to(torch::kFloat32)));  // bytes: NaN != NaN
  REQUIRE_THROWS_WITH(file.get("nope"), Contains("all.safetensors") && Contains("\"nope\""));
}

TEST_CASE("safetensors: metadata round-trips and views outlive the reader", "[safetensors]") {
  auto dir = hmt::test::temp_dir("st_meta");
  auto path = (dir / "m.safetensors").string();
  hmt::save_safetensors(path, {{"w", torch::arange(6, torch::kFloat32).reshape({2, 3})}},
                        {{"format", "pt"}, {"note", "a \"quoted\" value"}});
  torch::Tensor view;
  {
    hmt::SafetensorsReader reader(path);
    REQUIRE(reader.metadata() == std::map<std::string, std::string>{{"format", "pt"}, {"note", "a \"quoted\" value"}});
    REQUIRE(reader.file_of("w") == path);
    view = reader.get("w");
  }
  // Writing to the view stays private: the file on disk keeps its values.
  view.add_(100);
  REQUIRE(view[1][2].item<float>() == 105.0f);
  REQUIRE(torch::equal(hmt::SafetensorsFile(path).get("w"), torch::arange(6, torch::kFloat32).reshape({2, 3})));
}

TEST_CASE("safetensors: header layout matches a hand-built file byte for byte", "[safetensors]") {
  auto dir = hmt::test::temp_dir("st_layout");
  // The reference writer puts wider dtypes first (I64 before F32), then names
  // in order, __metadata__ first, compact JSON padded with spaces to 8.
  std::string header =
      R"({"__metadata__":{"format":"pt"},"z":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},)"
      R"("a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},"b":{"dtype":"F32","shape":[],"data_offsets":[16,20]}})";
  while (header.size() % 8 != 0) header += ' ';
  std::string data = le64(7);
  float floats[3] = {1.0f, -2.5f, 0.25f};
  data.append(reinterpret_cast<const char*>(floats), sizeof(floats));
  std::string expected = le64(header.size()) + header + data;

  auto path = dir / "w.safetensors";
  hmt::save_safetensors(path.string(),
                        {{"b", torch::tensor(0.25f)},
                         {"a", torch::tensor({1.0f, -2.5f})},
                         {"z", torch::tensor({int64_t{7}})}},
                        {{"format", "pt"}});
  REQUIRE(hmt::test::read_text(path) == expected);
}

TEST_CASE("safetensors: re-saving the reference-written fake_gpt2 file reproduces its bytes", "[safetensors]") {
  HMT_REQUIRE_SHARED("holdout/models/fake_gpt2/model.safetensors");
  auto original = hmt::test::shared_data() / "holdout/models/fake_gpt2/model.safetensors";
  hmt::SafetensorsFile file(original.string());
  hmt::NamedTensors tensors;
  for (const auto& name : file.names()) tensors.emplace_back(name, file.get(name));
  auto copy = hmt::test::temp_dir("st_resave") / "model.safetensors";
  hmt::save_safetensors(copy.string(), tensors, file.metadata());
  REQUIRE(hmt::test::read_text(copy) == hmt::test::read_text(original));
}

TEST_CASE("safetensors: memory-maps the fake_gpt2 checkpoint", "[safetensors]") {
  HMT_REQUIRE_SHARED("holdout/models/fake_gpt2/model.safetensors");
  auto path = hmt::test::shared_data() / "holdout/models/fake_gpt2/model.safetensors";
  hmt::SafetensorsReader reader(path.string());
  auto names = reader.names();
  REQUIRE(names.size() == 16);
  REQUIRE(names.front() == "transformer.h.0.attn.c_attn.bias");
  REQUIRE(names.back() == "transformer.wte.weight");
  REQUIRE(reader.metadata().at("format") == "pt");
  const auto& wte = reader.entry("transformer.wte.weight");
  REQUIRE(wte.dtype == torch::kFloat32);
  REQUIRE(wte.shape == std::vector<int64_t>{50257, 2});
  REQUIRE(reader.entry("transformer.h.0.attn.c_attn.weight").shape == std::vector<int64_t>{2, 6});
  REQUIRE(reader.entry("transformer.h.0.mlp.c_proj.weight").shape == std::vector<int64_t>{8, 2});

  // The view's values are the bytes at 8 + header + data_offsets, read plainly.
  std::string bytes = hmt::test::read_text(path);
  uint64_t header_size = 0;
  std::memcpy(&header_size, bytes.data(), 8);
  auto t = reader.get("transformer.wte.weight");
  REQUIRE(t.sizes() == torch::IntArrayRef({50257, 2}));
  REQUIRE(tensor_bytes(t) == bytes.substr(8 + header_size + wte.begin, wte.end - wte.begin));
}

TEST_CASE("safetensors: corrupt files fail with the file and tensor named", "[safetensors]") {
  auto dir = hmt::test::temp_dir("st_corrupt");
  auto open = [](const fs::path& p) { hmt::SafetensorsFile file(p.string()); };
  const std::string ok_entry = R"("t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  const std::string eight(8, '\0');

  write_bytes(dir / "short.safetensors", "abc");
  REQUIRE_THROWS_WITH(open(dir / "short.safetensors"), Contains("short.safetensors") && Contains("shorter than"));

  // A valid file cut in the middle of its data.
  hmt::save_safetensors((dir / "full.safetensors").string(), {{"t", torch::ones({4})}});
  std::string full = hmt::test::read_text(dir / "full.safetensors");
  write_bytes(dir / "cut.safetensors", full.substr(0, full.size() - 3));
  REQUIRE_THROWS_WITH(open(dir / "cut.safetensors"), Contains("cut.safetensors") && Contains("buffer"));
  write_bytes(dir / "cut_header.safetensors", full.substr(0, 20));
  REQUIRE_THROWS_WITH(open(dir / "cut_header.safetensors"),
                      Contains("cut_header.safetensors") && Contains("runs past the end"));

  REQUIRE_THROWS_WITH(open(raw_file(dir, "{\"t\": [1, ", eight)),
                      Contains("raw.safetensors") && Contains("invalid JSON"));
  REQUIRE_THROWS_WITH(open(raw_file(dir, R"({"t":{"dtype":"F24","shape":[2],"data_offsets":[0,8]}})", eight)),
                      Contains("raw.safetensors") && Contains("\"t\"") && Contains("unsupported dtype \"F24\""));
  REQUIRE_THROWS_WITH(open(raw_file(dir, R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}})", eight)),
                      Contains("\"t\"") && Contains("out of range"));
  REQUIRE_THROWS_WITH(open(raw_file(dir, R"({"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", eight)),
                      Contains("\"t\"") && Contains("needs 12 bytes"));
  REQUIRE_THROWS_WITH(open(raw_file(dir, "{" + ok_entry + R"(,"u":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                                    eight + "xxxx")),
                      Contains("\"u\"") && Contains("overlap"));
  REQUIRE_THROWS_WITH(open(raw_file(dir, R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", eight)),
                      Contains("\"t\"") && Contains("gap"));
  REQUIRE_THROWS_WITH(open(raw_file(dir, "{" + ok_entry + "}", eight + "zz")),
                      Contains("raw.safetensors") && Contains("not covered exactly"));
  REQUIRE_THROWS_WITH(open(raw_file(dir, R"({"t":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", eight)),
                      Contains("\"t\"") && Contains("negative"));
  // The unpadded hand-built file with a consistent header opens fine.
  hmt::SafetensorsFile good(raw_file(dir, "{" + ok_entry + "}", eight).string());
  REQUIRE(torch::equal(good.get("t"), torch::zeros({2})));
}

TEST_CASE("safetensors: a sharded index reads as one checkpoint", "[safetensors]") {
  auto dir = hmt::test::temp_dir("st_sharded");
  auto a = torch::arange(4, torch::kFloat32), b = torch::arange(6, torch::kFloat16).reshape({2, 3});
  auto c = torch::tensor({int64_t{5}});
  hmt::save_safetensors((dir / "model-00001-of-00002.safetensors").string(), {{"x.a", a}, {"x.c", c}});
  hmt::save_safetensors((dir / "model-00002-of-00002.safetensors").string(), {{"y.b", b}});
  auto write_index = [&](const std::string& third_shard) {
    write_bytes(dir / "model.safetensors.index.json",
                R"({"metadata":{"total_size":28},"weight_map":{"x.a":"model-00001-of-00002.safetensors",)"
                R"("y.b":"model-00002-of-00002.safetensors","x.c":")" +
                    third_shard + R"("}})");
  };
  write_index("model-00001-of-00002.safetensors");
  hmt::SafetensorsReader reader((dir / "model.safetensors.index.json").string());
  REQUIRE(reader.names() == std::vector<std::string>{"x.a", "x.c", "y.b"});
  REQUIRE(torch::equal(reader.get("x.a"), a));
  REQUIRE(torch::equal(reader.get("y.b"), b));
  REQUIRE(torch::equal(reader.get("x.c"), c));
  REQUIRE(reader.entry("y.b").dtype == torch::kFloat16);
  REQUIRE(fs::path(reader.file_of("y.b")).filename() == "model-00002-of-00002.safetensors");

  write_index("model-00002-of-00002.safetensors");
  REQUIRE_THROWS_WITH(hmt::SafetensorsReader((dir / "model.safetensors.index.json").string()),
                      Contains("model.safetensors.index.json") && Contains("\"x.c\"") &&
                          Contains("does not contain it"));
  write_index("model-00003-of-00002.safetensors");
  REQUIRE_THROWS_WITH(hmt::SafetensorsReader((dir / "model.safetensors.index.json").string()),
                      Contains("model-00003-of-00002.safetensors"));
}

TEST_CASE("safetensors: failed or unfinished writes never replace the file", "[safetensors]") {
  auto dir = hmt::test::temp_dir("st_atomic");
  auto path = (dir / "m.safetensors").string();
  hmt::save_safetensors(path, {{"w", torch::ones({3})}});
  const std::string before = hmt::test::read_text(path);

  REQUIRE_THROWS_WITH(hmt::save_safetensors(path, {{"w", torch::ones({2})}, {"w", torch::ones({2})}}),
                      Contains("m.safetensors") && Contains("\"w\" given twice"));
  {
    hmt::AtomicFile file(path);
    file.write(std::string("partial"));
    // destroyed without commit(), as when an exception unwinds mid-write
  }
  REQUIRE(hmt::test::read_text(path) == before);
  REQUIRE(std::distance(fs::directory_iterator(dir), fs::directory_iterator()) == 1);

  hmt::AtomicFile file(path);
  file.write(std::string("new"));
  REQUIRE(hmt::test::read_text(path) == before);  // not visible before commit
  file.commit();
  REQUIRE(hmt::test::read_text(path) == "new");
  REQUIRE(std::distance(fs::directory_iterator(dir), fs::directory_iterator()) == 1);
}
