// The pictures module: image grids checked pixel by pixel against values computed here
// and decoded twice (read_png, and tests/report/check_picture.py with python3's zlib);
// plots checked for size, ink, XML and identical bytes from identical input.
#include "report/pictures.hpp"

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <numbers>
#include <random>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace rp = vaec::report;
namespace fs = std::filesystem;

namespace {

struct temp_dir {
  fs::path path;
  temp_dir() {
    path = fs::temp_directory_path() / ("vaec_pictures_test_" + std::to_string(::getpid()));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~temp_dir() { fs::remove_all(path); }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// Runs the Python checker; returns its exit status and puts its first line in `out`.
int run_checker(const std::string& args, std::string& out) {
  const std::string cmd = "python3 " VAEC_SOURCE_DIR "/tests/report/check_picture.py " + args + " 2>&1";
  std::FILE* p = ::popen(cmd.c_str(), "r");
  BOOST_REQUIRE(p != nullptr);
  char buf[512];
  out.clear();
  while (std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
  const int status = ::pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// The level a value should get, written independently of the module: clamp, then round.
std::uint8_t expected_level(float v) {
  if (std::isnan(v)) return 0;
  return static_cast<std::uint8_t>(std::lround(std::clamp(static_cast<double>(v), 0.0, 1.0) * 255.0));
}

// The grid computed backwards, from each output pixel to its source (the module maps
// forwards, from each source value to its pixels).
rp::png_image expected_grid(const std::vector<float>& images, int count, rp::image_shape s, int cols, int scale) {
  const int rows = (count + cols - 1) / cols;
  const int cw = s.width * scale + 1, ch = s.height * scale + 1;
  rp::png_image g;
  g.width = cols * cw + 1;
  g.height = rows * ch + 1;
  g.channels = s.channels;
  g.pixels.resize(static_cast<std::size_t>(g.width * g.height * g.channels));
  for (int Y = 0; Y < g.height; ++Y)
    for (int X = 0; X < g.width; ++X)
      for (int c = 0; c < s.channels; ++c) {
        std::uint8_t v = 128;
        const int ix = (X - 1) % cw, iy = (Y - 1) % ch;  // position inside the cell
        const int i = ((Y - 1) / ch) * cols + (X - 1) / cw;
        if (X > 0 && Y > 0 && ix < s.width * scale && iy < s.height * scale && i < count) {
          const int r = iy / scale, w = ix / scale;
          v = expected_level(images[static_cast<std::size_t>(((i * s.channels + c) * s.height + r) * s.width + w)]);
        }
        g.pixels[static_cast<std::size_t>((Y * g.width + X) * g.channels + c)] = v;
      }
  return g;
}

void check_grid(const temp_dir& dir, const std::string& name, const std::vector<float>& images, int count,
                rp::image_shape s, int cols, int scale) {
  const std::string path = dir / name;
  rp::write_image_grid(path, images, count, s, cols, scale);
  const rp::png_image want = expected_grid(images, count, s, cols, scale);
  const rp::png_image got = rp::read_png(path);
  BOOST_TEST(got.width == want.width);
  BOOST_TEST(got.height == want.height);
  BOOST_TEST(got.channels == want.channels);
  BOOST_REQUIRE(got.pixels.size() == want.pixels.size());
  std::size_t differ = 0;
  for (std::size_t i = 0; i < got.pixels.size(); ++i) differ += std::abs(got.pixels[i] - want.pixels[i]) > 1;
  BOOST_TEST(differ == 0u);

  const std::string raw = dir / (name + ".expected");
  std::ofstream(raw, std::ios::binary)
      .write(reinterpret_cast<const char*>(want.pixels.data()), static_cast<std::streamsize>(want.pixels.size()));
  std::string out;
  const int status = run_checker("png " + path + " " + raw + " " + std::to_string(want.width) + " " +
                                     std::to_string(want.height) + " " + std::to_string(want.channels),
                                 out);
  BOOST_TEST(status == 0, "check_picture.py: " << out);
  BOOST_TEST(!fs::exists(path + ".tmp"));
}

double variance(const rp::png_image& img) {
  double sum = 0, sum2 = 0;
  for (auto p : img.pixels) sum += p, sum2 += static_cast<double>(p) * p;
  const double n = static_cast<double>(img.pixels.size());
  return sum2 / n - (sum / n) * (sum / n);
}

// A plot's two files: the PNG has the size asked for and ink on it, the SVG is XML, and
// drawing again gives the same bytes.
void check_plot(const temp_dir& dir, const std::string& name, int width, int height,
                const std::function<void(const std::string&)>& draw) {
  const std::string base = dir / name;
  draw(base);
  const rp::png_image img = rp::read_png(base + ".png");
  BOOST_TEST(img.width == width);
  BOOST_TEST(img.height == height);
  BOOST_TEST(img.channels == 3);
  BOOST_TEST(variance(img) > 200.0, name << ": pixel variance " << variance(img));
  std::string out;
  BOOST_TEST(run_checker("xml " + base + ".svg", out) == 0, name << ".svg: " << out);
  BOOST_TEST(out.find("svg") != std::string::npos, out);

  const std::string png1 = slurp(base + ".png"), svg1 = slurp(base + ".svg");
  draw(base);
  BOOST_TEST((slurp(base + ".png") == png1), name << ".png differs between two identical calls");
  BOOST_TEST((slurp(base + ".svg") == svg1), name << ".svg differs between two identical calls");
  BOOST_TEST(!fs::exists(base + ".png.tmp"));
  BOOST_TEST(!fs::exists(base + ".svg.tmp"));
}

const std::vector<std::string> three = {"zero", "one", "two"};

}  // namespace

BOOST_AUTO_TEST_SUITE(report_pictures)

BOOST_AUTO_TEST_CASE(grey_grid_every_pixel_from_its_value) {
  temp_dir dir;
  // 5 images of 3×4 in 3 columns (one cell left empty), scale 2; values across [0, 1]
  // and beyond it, and a NaN.
  const rp::image_shape s{1, 3, 4};
  std::vector<float> v(5 * 12);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i) / 50.0f - 0.1f;
  v[7] = std::numeric_limits<float>::quiet_NaN();
  v[8] = 0.5f / 255.0f;    // rounds to 1 (half away from zero)
  v[9] = 127.5f / 255.0f;  // 128
  check_grid(dir, "grey.png", v, 5, s, 3, 2);
  check_grid(dir, "grey_scale1.png", v, 5, s, 2, 1);
}

BOOST_AUTO_TEST_CASE(rgb_grid_keeps_channels_apart) {
  temp_dir dir;
  const rp::image_shape s{3, 2, 3};
  std::vector<float> v(4 * 3 * 2 * 3);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-0.05f, 1.05f);
  for (auto& x : v) x = u(rng);
  check_grid(dir, "rgb.png", v, 4, s, 3, 3);
  // A pure red, green and blue image: the channels land where they should.
  std::vector<float> prim(3 * 3 * 1 * 1, 0.0f);
  prim[0] = 1;      // image 0, red
  prim[3 + 1] = 1;  // image 1, green
  prim[6 + 2] = 1;  // image 2, blue
  const std::string path = dir / "primaries.png";
  rp::write_image_grid(path, prim, 3, {3, 1, 1}, 3, 1);
  const rp::png_image g = rp::read_png(path);
  BOOST_REQUIRE(g.width == 7 && g.height == 3 && g.channels == 3);
  auto px = [&](int x, int c) { return g.pixels[static_cast<std::size_t>((1 * g.width + x) * 3 + c)]; };
  BOOST_TEST((px(1, 0) == 255 && px(1, 1) == 0 && px(1, 2) == 0));
  BOOST_TEST((px(3, 0) == 0 && px(3, 1) == 255 && px(3, 2) == 0));
  BOOST_TEST((px(5, 0) == 0 && px(5, 1) == 0 && px(5, 2) == 255));
}

BOOST_AUTO_TEST_CASE(grid_size_follows_shape_cols_and_scale) {
  temp_dir dir;
  struct cas {
    int count, c, h, w, cols, scale;
  };
  for (const cas& k : {cas{64, 1, 28, 28, 8, 1}, cas{64, 1, 28, 28, 8, 2}, cas{10, 3, 32, 32, 4, 1},
                       cas{3, 1, 5, 7, 8, 3}, cas{1, 1, 1, 1, 1, 1}}) {
    std::vector<float> v(static_cast<std::size_t>(k.count * k.c * k.h * k.w), 0.25f);
    const std::string path = dir / "size.png";
    rp::write_image_grid(path, v, k.count, {k.c, k.h, k.w}, k.cols, k.scale);
    const rp::png_image g = rp::read_png(path);
    const int rows = (k.count + k.cols - 1) / k.cols;
    BOOST_TEST(g.width == k.cols * (k.w * k.scale + 1) + 1);
    BOOST_TEST(g.height == rows * (k.h * k.scale + 1) + 1);
    BOOST_TEST(g.channels == k.c);
  }
}

BOOST_AUTO_TEST_CASE(grid_is_deterministic) {
  temp_dir dir;
  std::vector<float> v(16 * 49);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>((i * 37) % 101) / 100.0f;
  rp::write_image_grid(dir / "a.png", v, 16, {1, 7, 7}, 4, 2);
  rp::write_image_grid(dir / "b.png", v, 16, {1, 7, 7}, 4, 2);
  BOOST_TEST((slurp(dir / "a.png") == slurp(dir / "b.png")));
}

BOOST_AUTO_TEST_CASE(errors_name_the_path_and_the_reason) {
  temp_dir dir;
  std::vector<float> v(4, 0.5f);
  const std::string missing = dir / "no/such/folder/samples.png";
  try {
    rp::write_image_grid(missing, v, 1, {1, 2, 2}, 1);
    BOOST_FAIL("no error for an unwritable path");
  } catch (const rp::picture_error& e) {
    const std::string what = e.what();
    BOOST_TEST(what.find(missing) != std::string::npos, what);
    BOOST_TEST(what.find("no such file or directory") != std::string::npos, what);
  }
  auto message = [&](auto f) -> std::string {
    try {
      f();
    } catch (const rp::picture_error& e) {
      return e.what();
    }
    return "";
  };
  const std::string p = dir / "x.png";
  BOOST_TEST(message([&] { rp::write_image_grid(p, v, 2, {1, 2, 2}, 1); }).find("8 expected") != std::string::npos);
  BOOST_TEST(message([&] { rp::write_image_grid(p, v, 1, {2, 2, 1}, 1); }).find("channels") != std::string::npos);
  BOOST_TEST(message([&] { rp::write_image_grid(p, v, 1, {1, 2, 2}, 0); }).find("cols") != std::string::npos);
  BOOST_TEST(message([&] { rp::write_image_grid(p, v, 1, {1, 2, 2}, 1, 0); }).find("scale") != std::string::npos);
  BOOST_TEST(!fs::exists(p));
  BOOST_TEST(message([&] { rp::read_png(dir / "absent.png"); }).find("absent.png: no such file") != std::string::npos);
  std::ofstream(dir / "junk.png") << "not a png";
  BOOST_TEST(message([&] { rp::read_png(dir / "junk.png"); }).find("junk.png") != std::string::npos);
  const double xs[2] = {0, 1}, ys[1] = {0};
  BOOST_TEST(message([&] { rp::plot_scatter(dir / "s", "t", "x", "y", xs, ys, {}, {}); }).find("s.png") !=
             std::string::npos);
  const int labels[2] = {0, 5};
  BOOST_TEST(message([&] { rp::plot_scatter(dir / "s", "t", "x", "y", xs, xs, labels, three); }).find("no name") !=
             std::string::npos);
  const double zero[3] = {0, 0, 0};
  BOOST_TEST(message([&] { rp::plot_sphere(dir / "s", "t", zero, {}, {}); }).find("zero vector") !=
             std::string::npos);
  BOOST_TEST(message([&] { rp::plot_bars(dir / "no/such/kl", "t", "x", "y", xs); }).find("no/such/kl.png") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(learning_curves_and_comparison_plots) {
  temp_dir dir;
  std::vector<double> ep = {1, 2, 3, 4, 5, 6};
  rp::line_plot curves;
  curves.title = "learning curves";
  curves.xlabel = "epoch";
  curves.height = 900;
  curves.bands = {{0.5, 2.5}};
  curves.band_label = "KL warm-up";
  auto pair = [&](const std::string& label, double a) {
    rp::panel p;
    p.ylabel = label;
    std::vector<double> tr, te;
    for (double e : ep) tr.push_back(a + 20 / e), te.push_back(a + 18 / e);
    p.lines = {{"train", ep, tr, {}, -1, -1, false}, {"test", ep, te, {}, 1, -1, true}};
    return p;
  };
  curves.panels = {pair("ELBO (nats)", -250), pair("reconstruction (nats)", -230), pair("KL (nats)", 20)};
  rp::panel beta;
  beta.ylabel = "β";
  beta.lines = {{"β", ep, {0.5, 1, 1, 1, 1, std::nan("")}, {}, -1, -1, false}};
  curves.panels.push_back(beta);
  check_plot(dir, "curves", 800, 900, [&](const std::string& b) { rp::plot_lines(b, curves); });

  rp::line_plot ll;
  ll.title = "log-likelihood";
  ll.xlabel = "latent dimensions";
  ll.log_x = true;
  ll.panels = {{"LL (nats)", {{"Gaussian", {2, 5, 10, 20}, {-260, -245, -238, -236}, {2, 1.5, 1, 1}, -1, -1, false}}, true, std::nullopt, std::nullopt}};
  check_plot(dir, "compare", 800, 600, [&](const std::string& b) { rp::plot_lines(b, ll); });
}

BOOST_AUTO_TEST_CASE(latent_plots) {
  temp_dir dir;
  const std::size_t n = 600;
  std::mt19937_64 rng(3);
  std::normal_distribution<double> z;
  std::vector<double> xs(n), ys(n), angles(n), pts(3 * n);
  std::vector<int> labels(n);
  for (std::size_t i = 0; i < n; ++i) {
    labels[i] = static_cast<int>(i % 3);
    xs[i] = labels[i] * 3 + z(rng);
    ys[i] = z(rng);
    angles[i] = 2.0 * labels[i] + 0.3 * z(rng);
    pts[3 * i] = z(rng) + labels[i];
    pts[3 * i + 1] = z(rng);
    pts[3 * i + 2] = z(rng) - labels[i];
  }
  check_plot(dir, "scatter", 800, 600,
             [&](const std::string& b) { rp::plot_scatter(b, "latent", "z1", "z2", xs, ys, labels, three); });
  check_plot(dir, "scatter_unlabelled", 800, 600,
             [&](const std::string& b) { rp::plot_scatter(b, "latent", "PC 1", "PC 2", xs, ys, {}, {}); });
  check_plot(dir, "circle", 800, 600,
             [&](const std::string& b) { rp::plot_circle(b, "directions", angles, labels, three); });
  check_plot(dir, "sphere", 800, 600,
             [&](const std::string& b) { rp::plot_sphere(b, "directions", pts, labels, three); });
  // One check of a plot's size and ink through the independent decoder.
  std::string out;
  BOOST_TEST(run_checker("stats " + (dir / "sphere.png"), out) == 0, out);
  unsigned w = 0, h = 0, c = 0;
  double var = 0;
  BOOST_TEST(std::sscanf(out.c_str(), "%u %u %u %lf", &w, &h, &c, &var) == 4, out);
  BOOST_TEST((w == 800u && h == 600u && c == 3u && var > 200.0), out);
}

BOOST_AUTO_TEST_CASE(bar_plot_with_threshold) {
  temp_dir dir;
  const std::vector<double> kl = {2.5, 0.001, 1.2, 0.0, 0.8, 0.004, -0.002, 0.3};
  check_plot(dir, "kl", 800, 600, [&](const std::string& b) {
    rp::plot_bars(b, "KL per coordinate", "latent coordinate", "KL (nats)", kl,
                  rp::threshold_line{0.01, "active-unit threshold"});
  });
  check_plot(dir, "bars", 800, 600,
             [&](const std::string& b) { rp::plot_bars(b, "values", "index", "value", kl); });
}

BOOST_AUTO_TEST_SUITE_END()
