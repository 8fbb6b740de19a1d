// The one translation unit that compiles Boost.Spirit X3.
#include "lang/parser/grammar.hpp"

#include "lang/parser/grammar_def.hpp"

namespace vaec::parser {

iterator_type skip_blank(iterator_type it, iterator_type end) {
  while (it != end) {
    char c = *it;
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v') {
      ++it;
    } else if (c == '#') {
      while (it != end && *it != '\n') ++it;
    } else {
      break;
    }
  }
  return it;
}

bool parse_declaration(iterator_type& it, iterator_type end, iterator_type base, ast::declaration& out,
                       parse_failure& failure) {
  iterator_type start = it;
  try {
    auto const parser = x3::with<base_tag>(base)[declaration];
    if (x3::phrase_parse(it, end, parser, skipper, out)) return true;
    failure.where = skip_blank(start, end);
    failure.expected = declaration.name;
  } catch (const x3::expectation_failure<iterator_type>& e) {
    // X3 reports the position before the skipper ran; point at the token instead.
    failure.where = skip_blank(e.where(), end);
    failure.expected = e.which();
  }
  it = start;
  return false;
}

bool parse_setting(iterator_type& it, iterator_type end, iterator_type base, ast::train_entry& out,
                   parse_failure& failure) {
  iterator_type start = it;
  try {
    auto const parser = x3::with<base_tag>(base)[train_entry > x3::eoi];
    if (x3::phrase_parse(it, end, parser, skipper, out)) return true;
    failure.where = skip_blank(start, end);
    failure.expected = "NAME=VALUE";
  } catch (const x3::expectation_failure<iterator_type>& e) {
    failure.where = skip_blank(e.where(), end);
    failure.expected = e.which() == "eoi" ? "the end of the setting" : e.which();
  }
  it = start;
  return false;
}

}  // namespace vaec::parser
