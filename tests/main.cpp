#define BOOST_TEST_MODULE vaec
#include <boost/test/included/unit_test.hpp>
