#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <regex>

#include "core/sha256.h"
#include "data/sources/prepare.h"
#include "data/tokenizers/tokenizer.h"
#include "data/sources/wikitext.h"
#include "tests/data/sources/prepare_fixture.h"

namespace fs = std::filesystem;
using hmt::test::document_text;

namespace {

fs::path fixture(const std::string& relative) { return hmt::test::fixtures() / "data" / relative; }

}  // namespace

TEST_CASE("wikitext: top-level headings start articles, section headings do not", "[data][wikitext]") {
  CHECK(hmt::wikitext_title(" = Alpha = ") == std::string("Alpha"));
  CHECK(hmt::wikitext_title(" = A = B = ") == std::string("A = B"));
  CHECK(!hmt::wikitext_title(" = = History = = "));
  CHECK(!hmt::wikitext_title(" = = = Notes = = = "));
  CHECK(!hmt::wikitext_title(" Alpha = 5 = "));
  CHECK(!hmt::wikitext_title(" "));
  auto dir = hmt::test::temp_dir("prepare_wikitext");
  auto result = hmt::prepare_dataset(hmt::test::prepare_fixture_options("wikitext103", fixture("wikitext"),
                                                                        dir / "w.h5"));
  hmt::TokenStore store(result.out);
  CHECK(store.dataset() == "wikitext103");
  CHECK(store.splits() == std::vector<std::string>{"train", "validation", "test"});
  const auto& train = store.split("train");
  REQUIRE(train.documents() == 2);
  CHECK(train.document_name(0) == "Alpha");
  CHECK(document_text(train, 0) ==
        " = Alpha = \n \n Alpha is the first letter . It has <unk> uses .\n \n = = History = = \n \n It came from @-@ "
        "aleph .\n \n");
  CHECK(document_text(train, 1) == " = Beta = \n \n Beta follows alpha .\n \n = = = Notes = = = \n \n None .\n \n");
  const auto& valid = store.split("validation");
  REQUIRE(valid.documents() == 2);
  CHECK(document_text(valid, 1) == " = Delta = \n \n Delta is fourth .\n");  // to the end of the file
  REQUIRE(store.split("test").documents() == 1);
  CHECK(store.split("test").counts().skipped_empty == 0);  // the blank line before the first title is no document
}

TEST_CASE("wikitext: the shared validation split, byte for byte", "[data][wikitext][shared]") {
  HMT_REQUIRE_SHARED("wikitext/wiki.valid.tokens");
  const auto file = hmt::test::shared_data() / "wikitext/wiki.valid.tokens";
  auto dir = hmt::test::temp_dir("prepare_wikitext_shared");
  auto options = hmt::test::prepare_fixture_options("wikitext103", file, dir / "w.h5");
  auto result = hmt::prepare_dataset(options);
  hmt::TokenStore store(result.out);
  REQUIRE(store.splits() == std::vector<std::string>{"validation"});  // from the file name
  const auto& split = store.split("validation");
  // Independent count: lines that a regex takes for top-level headings.
  const std::string text = hmt::test::slurp(file);
  const std::regex heading("^ = [^=].* = $");
  int64_t headings = 0;
  std::string concatenated, line;
  std::istringstream lines(text);
  while (std::getline(lines, line)) headings += std::regex_match(line, heading) ? 1 : 0;
  CHECK(split.documents() == headings);
  for (int64_t d = 0; d < split.documents(); ++d) concatenated += document_text(split, d);
  // Everything but the blank line before the first title, in order, nothing twice.
  CHECK(concatenated == text.substr(text.find(" = ")));
  CHECK(split.sources().at(0).sha256 == hmt::sha256_file(file.string()));
}

TEST_CASE("pg19: books are documents named by id, metadata.csv is read as CSV", "[data][pg19]") {
  auto dir = hmt::test::temp_dir("prepare_pg19");
  auto result = hmt::prepare_dataset(hmt::test::prepare_fixture_options("pg19", fixture("pg19"), dir / "p.h5"));
  hmt::TokenStore store(result.out);
  const auto& train = store.split("train");
  REQUIRE(train.documents() == 2);
  CHECK(train.document_name(0) == "101");
  CHECK(document_text(train, 0) == hmt::test::slurp(fixture("pg19/train/101.txt")));
  CHECK(document_text(train, 1) == hmt::test::slurp(fixture("pg19/train/102.txt")));
  CHECK(document_text(store.split("validation"), 0) == hmt::test::slurp(fixture("pg19/validation/103.txt")));
  CHECK(train.counts().missing_metadata == 0);
  auto sources = train.sources();
  REQUIRE(sources.size() == 3);
  CHECK(sources[0].path == "metadata.csv");
  CHECK(sources[1].path == "train/101.txt");
  CHECK(sources[1].sha256 == hmt::sha256_file(fixture("pg19/train/101.txt").string()));
  CHECK(sources[1].bytes == fs::file_size(fixture("pg19/train/101.txt")));
}

TEST_CASE("pg19: missing split folders, malformed CSV and books without metadata", "[data][pg19][errors]") {
  auto dir = hmt::test::temp_dir("prepare_pg19_bad");
  fs::copy(fixture("pg19"), dir / "pg19", fs::copy_options::recursive);
  auto options = hmt::test::prepare_fixture_options("pg19", dir / "pg19", dir / "p.h5");

  hmt::test::write_text(dir / "pg19/train/105.txt", "A book nobody listed.\n");
  auto result = hmt::prepare_dataset(options);
  hmt::TokenStore store(result.out);
  CHECK(store.split("train").documents() == 3);
  CHECK(store.split("train").counts().missing_metadata == 1);

  auto csv = dir / "pg19/metadata.csv";
  hmt::test::write_text(csv, "101,\"Unclosed title,1851,http://x\n");
  CHECK_THROWS_WITH(hmt::prepare_dataset(options),
                    Catch::Contains(csv.string() + ": malformed CSV") && Catch::Contains("not closed in line 1"));
  hmt::test::write_text(csv, "101,Fine,1851,http://x\n102,Too few\n");
  CHECK_THROWS_WITH(hmt::prepare_dataset(options), Catch::Contains("Too few columns in line 2"));
  hmt::test::write_text(csv, "101,Fine,1851,http://x\n101,Again,1851,http://x\n");
  CHECK_THROWS_WITH(hmt::prepare_dataset(options), csv.string() + ":2: book_id 101 appears twice");

  fs::remove_all(dir / "pg19/validation");
  CHECK_THROWS_WITH(hmt::prepare_dataset(options),
                    (dir / "pg19/validation").string() + ": missing split folder (data.splits lists `validation`)");
  options.splits = {"train", "test"};
  fs::copy_file(fixture("pg19/metadata.csv"), csv, fs::copy_options::overwrite_existing);
  CHECK(hmt::TokenStore(hmt::prepare_dataset(options).out).splits() == std::vector<std::string>{"train", "test"});
}

TEST_CASE("pg19: the shared books tokenize exactly as the tokenizer encodes each file", "[data][pg19][shared]") {
  HMT_REQUIRE_SHARED("pg19/metadata.csv");
  HMT_REQUIRE_SHARED("tokenizers/gpt2/tokenizer.json");
  const auto root = hmt::test::shared_data() / "pg19";
  auto dir = hmt::test::temp_dir("prepare_pg19_shared");
  auto options = hmt::test::prepare_fixture_options("pg19", root, dir / "p.h5");
  options.tokenizer = (hmt::test::shared_data() / "tokenizers/gpt2/tokenizer.json").string();
  options.splits = {"validation", "test"};  // the two small splits keep the test short
  hmt::TokenStore store(hmt::prepare_dataset(options).out);
  auto tokenizer = hmt::load_tokenizer(options.tokenizer);
  CHECK(store.tokenizer_fingerprint() == tokenizer->fingerprint());
  CHECK(store.vocab_size() == 50257);
  CHECK(store.eos_id() == 50256);
  CHECK(store.filler_id() == tokenizer->encode("$").front());
  for (const auto& split : options.splits) {
    std::vector<fs::path> books;
    for (const auto& e : fs::directory_iterator(root / split)) books.push_back(e.path());
    std::sort(books.begin(), books.end());
    const auto& s = store.split(split);
    REQUIRE(s.documents() == static_cast<int64_t>(books.size()));
    for (size_t b = 0; b < books.size(); ++b) {
      CHECK(s.document_name(static_cast<int64_t>(b)) == books[b].stem().string());
      CHECK(s.read_document(static_cast<int64_t>(b)) == tokenizer->encode(hmt::test::slurp(books[b])));
    }
  }
}

TEST_CASE("pubmedqa: fused contexts, answer-only scoring, labels and choices", "[data][pubmedqa]") {
  auto dir = hmt::test::temp_dir("prepare_pubmedqa");
  auto options = hmt::test::prepare_fixture_options("pubmedqa", fixture("pubmedqa/pqal_tiny.json"), dir / "q.h5");
  options.fuse_size = 2;
  hmt::TokenStore store(hmt::prepare_dataset(options).out);
  REQUIRE(store.splits() == std::vector<std::string>{"train"});
  const auto& split = store.split("train");
  REQUIRE(split.is_qa());
  REQUIRE(split.documents() == 5);
  // Groups {1001, 1002}, {1003, 1004}, {1005}: contexts of each record joined, then of the group.
  const std::string group0 = "Coffee was given. Patients woke up. Tea was given.";
  const std::string group1 = "Water was given. Some woke. Some slept. No decision here.";
  struct Expected {
    std::string pmid, prefix, answer;
    int label;
    int64_t group;
  };
  const std::vector<Expected> expected = {
      {"1001", group0 + " Does coffee help?", " Coffee helps.", 0, 0},
      {"1002", group0 + " Is tea worse?", " Tea is not worse.", 1, 0},
      {"1003", group1 + " Can water do it?", " Water may help.", 2, 1},
      {"1004", group1 + " Unlabeled \xC3\xA9?", " Unknown.", -1, 1},
      {"1005", "Alone. Last one?", " Yes it is.", 0, 2},
  };
  for (size_t i = 0; i < expected.size(); ++i) {
    const auto& e = expected[i];
    auto s = split.qa_sample(static_cast<int64_t>(i));
    INFO("sample " << i);
    CHECK(s.name == e.pmid);
    CHECK(s.ids == hmt::test::byte_ids(e.prefix + e.answer));
    CHECK(s.answer_start == static_cast<int64_t>(e.prefix.size()));
    CHECK(s.label == e.label);
    CHECK(s.group == e.group);
    CHECK(s.choices[0] == hmt::test::byte_ids(" yes"));
    CHECK(s.choices[1] == hmt::test::byte_ids(" no"));
    CHECK(s.choices[2] == hmt::test::byte_ids(" maybe"));
  }
  options.fuse_size = 1;
  options.splits = {"train", "validation"};
  options.split_fractions = {0.6, 0.4};
  hmt::TokenStore cut(hmt::prepare_dataset(options).out);
  REQUIRE(cut.split("train").documents() == 3);
  REQUIRE(cut.split("validation").documents() == 2);
  CHECK(cut.split("validation").qa_sample(0).name == "1004");
  CHECK(cut.split("train").qa_sample(1).ids == hmt::test::byte_ids("Tea was given. Is tea worse? Tea is not worse."));
}

TEST_CASE("pubmedqa: the shared PQA-L half: answers decode to LONG_ANSWER, labels match", "[data][pubmedqa][shared]") {
  HMT_REQUIRE_SHARED("pubmedqa/ori_pqal_train.json");
  HMT_REQUIRE_SHARED("tokenizers/gpt2/tokenizer.json");
  const auto file = hmt::test::shared_data() / "pubmedqa/ori_pqal_train.json";
  auto dir = hmt::test::temp_dir("prepare_pubmedqa_shared");
  auto options = hmt::test::prepare_fixture_options("pubmedqa", file, dir / "q.h5");
  options.tokenizer = (hmt::test::shared_data() / "tokenizers/gpt2/tokenizer.json").string();
  options.fuse_size = 2;
  hmt::TokenStore store(hmt::prepare_dataset(options).out);
  const auto& split = store.split("train");
  auto records = nlohmann::ordered_json::parse(hmt::test::slurp(file));
  REQUIRE(split.documents() == static_cast<int64_t>(records.size()));
  auto tokenizer = hmt::load_tokenizer(options.tokenizer);
  int64_t i = 0;
  for (const auto& [pmid, record] : records.items()) {
    auto s = split.qa_sample(i);
    INFO("PMID " << pmid);
    CHECK(s.name == pmid);
    CHECK(s.group == i / 2);
    CHECK(std::string(hmt::kShortAnswers.at(s.label)) == record["final_decision"].get<std::string>());
    std::vector<int32_t> answer(s.ids.begin() + s.answer_start, s.ids.end());
    CHECK(tokenizer->decode(answer) == " " + record["LONG_ANSWER"].get<std::string>());
    CHECK_THAT(tokenizer->decode({s.ids.begin(), s.ids.begin() + s.answer_start}),
               Catch::EndsWith(" " + record["QUESTION"].get<std::string>()));
    CHECK(tokenizer->decode(s.choices[1]) == " no");
    ++i;
  }
}

TEST_CASE("pubmedqa: malformed JSON and records are errors naming file, position and PMID",
          "[data][pubmedqa][errors]") {
  auto dir = hmt::test::temp_dir("prepare_pubmedqa_bad");
  const auto file = dir / "bad.json";
  auto options = hmt::test::prepare_fixture_options("pubmedqa", file, dir / "q.h5");
  hmt::test::write_text(file,
                        "{\n  \"1\": {\"QUESTION\": \"q\",\n  \"CONTEXTS\": [\"c\"] \"LONG_ANSWER\": \"a\"}\n}\n");
  CHECK_THROWS_WITH(hmt::prepare_dataset(options),
                    Catch::StartsWith(file.string() + ":3:") && Catch::Contains("malformed JSON"));
  hmt::test::write_text(file, R"({"7": {"CONTEXTS": ["c"], "LONG_ANSWER": "a"}})");
  CHECK_THROWS_WITH(hmt::prepare_dataset(options), file.string() + ": record 7: `QUESTION` is missing");
  hmt::test::write_text(file,
                        R"({"8": {"QUESTION": "q", "CONTEXTS": ["c"], "LONG_ANSWER": "a", "final_decision": "Y"}})");
  CHECK_THROWS_WITH(hmt::prepare_dataset(options),
                    file.string() + ": record 8: `final_decision` is \"Y\", expected yes, no or maybe");
  hmt::test::write_text(file, R"(["not", "an", "object"])");
  CHECK_THROWS_WITH(hmt::prepare_dataset(options), Catch::Contains("expected a JSON object"));
  CHECK(!fs::exists(dir / "q.h5"));
}

TEST_CASE("text: a folder of .txt files and a .jsonl corpus", "[data][text]") {
  auto dir = hmt::test::temp_dir("prepare_text");
  hmt::TokenStore folder(
      hmt::prepare_dataset(hmt::test::prepare_fixture_options("text", fixture("text/folder"), dir / "f.h5")).out);
  const auto& f = folder.split("train");
  REQUIRE(f.documents() == 3);
  CHECK(f.document_name(2) == "sub/c.txt");
  CHECK(document_text(f, 1) == "File b, longer.\n");
  hmt::TokenStore lines(
      hmt::prepare_dataset(hmt::test::prepare_fixture_options("text", fixture("text/corpus.jsonl"), dir / "j.h5")).out);
  const auto& j = lines.split("train");
  REQUIRE(j.documents() == 4);  // the blank line is no record
  CHECK(j.document_name(1) == "corpus.jsonl:3");
  CHECK(document_text(j, 1) == "Second \xC3\xA9 document.\nWith a newline.");
}

TEST_CASE("text: empty documents are skipped and ill-formed UTF-8 replaced, both counted", "[data][text][errors]") {
  auto dir = hmt::test::temp_dir("prepare_text_bad");
  hmt::test::write_text(dir / "c/a.txt", "good \xFF\xFE text \xE2\x82 end\n");
  hmt::test::write_text(dir / "c/b.txt", "");
  hmt::test::write_text(dir / "c/c.txt", " \n\t\n");
  hmt::test::write_text(dir / "c/d.txt", "fine\n");
  hmt::TokenStore store(hmt::prepare_dataset(hmt::test::prepare_fixture_options("text", dir / "c", dir / "o.h5")).out);
  const auto& split = store.split("train");
  REQUIRE(split.documents() == 2);
  CHECK(document_text(split, 0) == "good \xEF\xBF\xBD\xEF\xBF\xBD text \xEF\xBF\xBD end\n");
  auto counts = split.counts();
  CHECK(counts.skipped_empty == 2);
  CHECK(counts.invalid_utf8_replaced == 3);
  CHECK(counts.invalid_utf8_documents == 1);

  hmt::test::write_text(dir / "l.jsonl", "{\"text\": \"ok\"}\n{\"text\": oops}\n");
  auto options = hmt::test::prepare_fixture_options("text", dir / "l.jsonl", dir / "l.h5");
  CHECK_THROWS_WITH(hmt::prepare_dataset(options),
                    Catch::StartsWith((dir / "l.jsonl").string() + ":2:10: malformed JSON"));
  hmt::test::write_text(dir / "l.jsonl", "{\"body\": \"ok\"}\n");
  CHECK_THROWS_WITH(hmt::prepare_dataset(options),
                    (dir / "l.jsonl").string() + ":1: expected an object with a string field `text` (data.text_field)");
  options.text_field = "body";
  CHECK(hmt::TokenStore(hmt::prepare_dataset(options).out).split("train").documents() == 1);
}
