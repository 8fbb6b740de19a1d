// Tests of lang/source: byte offset → line:column, UTF-8 validation, reading files.
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>

#include <unistd.h>

#include "lang/source.hpp"

namespace {

// "LINE:COL" of an offset.
std::string at(const vaec::source& s, std::uint32_t offset) {
  vaec::position p = s.position_of(offset);
  return std::to_string(p.line) + ":" + std::to_string(p.column);
}

// The first invalid byte's offset, or -1.
long long first_invalid(std::string_view s) {
  auto r = vaec::first_invalid_utf8(s);
  return r ? static_cast<long long>(*r) : -1;
}

// A fresh directory for this process, removed at the end of the test.
struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    path = std::filesystem::temp_directory_path() / ("vaec-source-test-" + std::to_string(::getpid()));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(source)

// ---- positions -------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(positions_in_ascii_text) {
  vaec::source s("t.vae", "ab\ncd\n\nefg");
  BOOST_TEST(s.line_count() == 4u);
  BOOST_TEST(at(s, 0) == "1:1");
  BOOST_TEST(at(s, 1) == "1:2");
  BOOST_TEST(at(s, 2) == "1:3");  // the '\n' ends line 1
  BOOST_TEST(at(s, 3) == "2:1");
  BOOST_TEST(at(s, 4) == "2:2");
  BOOST_TEST(at(s, 6) == "3:1");  // the empty line
  BOOST_TEST(at(s, 7) == "4:1");
  BOOST_TEST(at(s, 9) == "4:3");
  // The end of a file without a final newline: after the last character of the last line.
  BOOST_TEST(at(s, 10) == "4:4");
  // Past the end: clamped to the end.
  BOOST_TEST(at(s, 1000) == "4:4");
  BOOST_TEST(s.line_text(1) == "ab");
  BOOST_TEST(s.line_text(2) == "cd");
  BOOST_TEST(s.line_text(3) == "");
  BOOST_TEST(s.line_text(4) == "efg");
  BOOST_TEST(s.line_text(0) == "");
  BOOST_TEST(s.line_text(5) == "");
  BOOST_TEST(s.name() == "t.vae");
}

BOOST_AUTO_TEST_CASE(final_newline_starts_an_empty_line) {
  vaec::source s("t.vae", "ab\n");
  BOOST_TEST(s.line_count() == 2u);
  BOOST_TEST(at(s, 2) == "1:3");
  BOOST_TEST(at(s, 3) == "2:1");  // end of file, on the empty last line
  BOOST_TEST(s.line_text(2) == "");

  vaec::source empty("e.vae", "");
  BOOST_TEST(empty.line_count() == 1u);
  BOOST_TEST(at(empty, 0) == "1:1");
  BOOST_TEST(at(empty, 5) == "1:1");
  BOOST_TEST(empty.line_text(1) == "");
}

BOOST_AUTO_TEST_CASE(columns_count_code_points) {
  // a (1 byte), é U+00E9 (2), € U+20AC (3), 𝄞 U+1D11E (4), b (1)
  const std::string text = "a\xC3\xA9\xE2\x82\xAC\xF0\x9D\x84\x9E" "b\nx\xCE\xB8y";
  vaec::source s("t.vae", text);
  BOOST_TEST(at(s, 0) == "1:1");   // a
  BOOST_TEST(at(s, 1) == "1:2");   // é
  BOOST_TEST(at(s, 3) == "1:3");   // €
  BOOST_TEST(at(s, 6) == "1:4");   // 𝄞
  BOOST_TEST(at(s, 10) == "1:5");  // b
  BOOST_TEST(at(s, 11) == "1:6");  // '\n'
  BOOST_TEST(at(s, 12) == "2:1");  // x
  BOOST_TEST(at(s, 13) == "2:2");  // θ
  BOOST_TEST(at(s, 15) == "2:3");  // y
  BOOST_TEST(at(s, 16) == "2:4");  // end of file
  BOOST_TEST(s.line_text(2) == "x\xCE\xB8y");

  // An invalid byte counts as one column.
  vaec::source bad("b.vae", "a\xFF" "b");
  BOOST_TEST(at(bad, 2) == "1:3");
  BOOST_TEST(at(bad, 3) == "1:4");
}

BOOST_AUTO_TEST_CASE(crlf_line_endings) {
  vaec::source s("t.vae", "ab\r\ncd\r\n");
  BOOST_TEST(s.line_count() == 3u);
  BOOST_TEST(at(s, 0) == "1:1");
  BOOST_TEST(at(s, 2) == "1:3");  // '\r'
  BOOST_TEST(at(s, 4) == "2:1");  // c
  BOOST_TEST(at(s, 5) == "2:2");
  BOOST_TEST(at(s, 8) == "3:1");  // end of file
  // The line's text carries no terminator.
  BOOST_TEST(s.line_text(1) == "ab");
  BOOST_TEST(s.line_text(2) == "cd");
  BOOST_TEST(s.line_text(3) == "");

  vaec::source no_final("t.vae", "ab\r\ncd");
  BOOST_TEST(no_final.line_count() == 2u);
  BOOST_TEST(at(no_final, 6) == "2:3");
  BOOST_TEST(no_final.line_text(2) == "cd");
}

// ---- UTF-8 -----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(utf8_sequence_length_of_valid_sequences) {
  BOOST_TEST(vaec::utf8_sequence_length("a") == 1);
  BOOST_TEST(vaec::utf8_sequence_length(std::string_view("\0", 1)) == 1);  // U+0000
  BOOST_TEST(vaec::utf8_sequence_length("\x7F") == 1);                      // U+007F
  BOOST_TEST(vaec::utf8_sequence_length("\xC2\x80") == 2);                  // U+0080, smallest 2-byte
  BOOST_TEST(vaec::utf8_sequence_length("\xC3\xA9") == 2);                  // é
  BOOST_TEST(vaec::utf8_sequence_length("\xDF\xBF") == 2);                  // U+07FF
  BOOST_TEST(vaec::utf8_sequence_length("\xE0\xA0\x80") == 3);              // U+0800, smallest 3-byte
  BOOST_TEST(vaec::utf8_sequence_length("\xE2\x82\xAC") == 3);              // €
  BOOST_TEST(vaec::utf8_sequence_length("\xED\x9F\xBF") == 3);              // U+D7FF, just below the surrogates
  BOOST_TEST(vaec::utf8_sequence_length("\xEE\x80\x80") == 3);              // U+E000, just above them
  BOOST_TEST(vaec::utf8_sequence_length("\xEF\xBF\xBF") == 3);              // U+FFFF
  BOOST_TEST(vaec::utf8_sequence_length("\xF0\x90\x80\x80") == 4);          // U+10000, smallest 4-byte
  BOOST_TEST(vaec::utf8_sequence_length("\xF0\x9D\x84\x9E") == 4);          // 𝄞
  BOOST_TEST(vaec::utf8_sequence_length("\xF4\x8F\xBF\xBF") == 4);          // U+10FFFF, the largest
  // Only the first sequence counts.
  BOOST_TEST(vaec::utf8_sequence_length("\xC3\xA9" "abc") == 2);
}

BOOST_AUTO_TEST_CASE(utf8_sequence_length_of_invalid_sequences) {
  BOOST_TEST(vaec::utf8_sequence_length("") == 0);
  // Overlong encodings.
  BOOST_TEST(vaec::utf8_sequence_length("\xC0\x80") == 0);          // U+0000 in two bytes
  BOOST_TEST(vaec::utf8_sequence_length("\xC1\xBF") == 0);          // U+007F in two bytes
  BOOST_TEST(vaec::utf8_sequence_length("\xE0\x80\x80") == 0);      // U+0000 in three
  BOOST_TEST(vaec::utf8_sequence_length("\xE0\x9F\xBF") == 0);      // U+07FF in three
  BOOST_TEST(vaec::utf8_sequence_length("\xF0\x80\x80\x80") == 0);  // U+0000 in four
  BOOST_TEST(vaec::utf8_sequence_length("\xF0\x8F\xBF\xBF") == 0);  // U+FFFF in four
  // UTF-16 surrogates.
  BOOST_TEST(vaec::utf8_sequence_length("\xED\xA0\x80") == 0);  // U+D800
  BOOST_TEST(vaec::utf8_sequence_length("\xED\xBF\xBF") == 0);  // U+DFFF
  // Beyond U+10FFFF.
  BOOST_TEST(vaec::utf8_sequence_length("\xF4\x90\x80\x80") == 0);
  // Truncated sequences.
  BOOST_TEST(vaec::utf8_sequence_length("\xC3") == 0);
  BOOST_TEST(vaec::utf8_sequence_length("\xE2\x82") == 0);
  BOOST_TEST(vaec::utf8_sequence_length("\xF0\x9D\x84") == 0);
  // A lead byte followed by something that is not a continuation byte.
  BOOST_TEST(vaec::utf8_sequence_length("\xC3" "a") == 0);
  BOOST_TEST(vaec::utf8_sequence_length("\xE2\x28\xA1") == 0);
  BOOST_TEST(vaec::utf8_sequence_length("\xE2\x82\x28") == 0);
  BOOST_TEST(vaec::utf8_sequence_length("\xF0\x9D\x84" "a") == 0);
  // A continuation byte on its own.
  BOOST_TEST(vaec::utf8_sequence_length("\x80") == 0);
  BOOST_TEST(vaec::utf8_sequence_length("\xBF") == 0);
  // Bytes that never occur in UTF-8: F5 to FF.
  for (int b = 0xF5; b <= 0xFF; ++b) {
    std::string s(1, static_cast<char>(b));
    s += "\x80\x80\x80";
    BOOST_TEST(vaec::utf8_sequence_length(s) == 0, "byte 0x" << std::hex << b);
  }
}

BOOST_AUTO_TEST_CASE(first_invalid_utf8_offsets) {
  BOOST_TEST(first_invalid("") == -1);
  BOOST_TEST(first_invalid("model m\n") == -1);
  BOOST_TEST(first_invalid("a\xC3\xA9\xE2\x82\xAC\xF0\x9D\x84\x9E" "b") == -1);
  BOOST_TEST(first_invalid("ab\xC0\x80") == 2);              // overlong
  BOOST_TEST(first_invalid("a\xED\xA0\x80") == 1);           // surrogate
  BOOST_TEST(first_invalid("\xE2\x82\xAC\xE2\x82") == 3);    // truncated at the end
  BOOST_TEST(first_invalid("\xC3\xA9\xF5") == 2);            // F5
  BOOST_TEST(first_invalid("\xFF") == 0);
  BOOST_TEST(first_invalid("abc\x80" "def") == 3);           // stray continuation byte
  BOOST_TEST(first_invalid("# \xCE\xB8\n\xC3(") == 5);       // a lead byte before '('
}

// ---- files -----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(read_file_reads_bytes_exactly) {
  temp_dir dir;
  auto path = (dir.path / "m.vae").string();
  const std::string text = "model m\r\n# \xCE\xB8\nlatent z : real[2]";  // CRLF, UTF-8, no final newline
  {
    std::ofstream out(path, std::ios::binary);
    out << text;
  }
  std::string error;
  auto s = vaec::source::read_file(path, error);
  BOOST_REQUIRE(s.has_value());
  BOOST_TEST(s->text() == text);
  BOOST_TEST(s->name() == path);
  BOOST_TEST(s->line_count() == 3u);
  BOOST_TEST(s->line_text(1) == "model m");

  // An empty file is a source with no text (the parser reports it).
  auto empty_path = (dir.path / "empty.vae").string();
  { std::ofstream out(empty_path, std::ios::binary); }
  auto e = vaec::source::read_file(empty_path, error);
  BOOST_REQUIRE(e.has_value());
  BOOST_TEST(e->text().empty());
}

BOOST_AUTO_TEST_CASE(read_file_missing_path) {
  temp_dir dir;
  std::string error;
  auto s = vaec::source::read_file((dir.path / "no-such-model.vae").string(), error);
  BOOST_TEST(!s.has_value());
  BOOST_TEST(error == "no such file or directory");
  std::string error2;
  BOOST_TEST(!vaec::source::read_file("", error2).has_value());
  BOOST_TEST(!error2.empty());
}

BOOST_AUTO_TEST_CASE(read_file_directory) {
  temp_dir dir;
  std::string error;
  auto s = vaec::source::read_file(dir.path.string(), error);
  BOOST_TEST(!s.has_value());
  BOOST_TEST(error.find("is a directory") != std::string::npos, error);
  // A reason is lowercase, as in every message.
  BOOST_REQUIRE(!error.empty());
  BOOST_TEST(error[0] == 'i');
}

BOOST_AUTO_TEST_SUITE_END()
