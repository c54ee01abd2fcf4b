// The Wilson interval against an independent computation: the bounds found
// by bisection on the score equation (p_hat - p)^2 = z^2 p (1 - p) / n
// (Python, 200 halvings), and the equation itself at the returned bounds.
#include <catch2/catch.hpp>

#include "core/error.h"
#include "eval/binomial_interval.h"

TEST_CASE("wilson interval: the bounds of the score test, exact 0 and 1 at the ends, bad counts refused", "[eval]") {
  struct Golden {
    int64_t k, n;
    double low, high;
  };
  for (const auto& g :
       {Golden{0, 10, 0.0, 0.277533}, Golden{0, 30, 0.0, 0.113513}, Golden{3, 30, 0.034600, 0.256211},
        Golden{30, 30, 0.886487, 1.0}, Golden{1, 4, 0.045587, 0.699358}, Golden{71, 200, 0.291986, 0.423479}}) {
    const auto ci = hmt::wilson_interval(g.k, g.n);
    CHECK(ci.low == Approx(g.low).margin(1e-6));
    CHECK(ci.high == Approx(g.high).margin(1e-6));
    const double z = 1.959963984540054, p_hat = static_cast<double>(g.k) / static_cast<double>(g.n);
    for (double p : {ci.low, ci.high}) {
      if (p == 0.0 || p == 1.0) continue;  // the end the data sits at: the equation has no root inside
      CHECK((p_hat - p) * (p_hat - p) == Approx(z * z * p * (1 - p) / static_cast<double>(g.n)).epsilon(1e-9));
    }
  }
  CHECK(hmt::wilson_interval(0, 30).low == 0.0);
  CHECK(hmt::wilson_interval(30, 30).high == 1.0);
  // A wider quantile gives a wider interval around the same rate.
  CHECK(hmt::wilson_interval(15, 30, /*z=*/2.576).low < hmt::wilson_interval(15, 30).low);
  CHECK_THROWS_WITH(hmt::wilson_interval(5, 0), Catch::Contains("5 successes of 0 trials"));
  CHECK_THROWS_WITH(hmt::wilson_interval(-1, 4), Catch::Contains("-1 successes of 4 trials"));
  CHECK_THROWS_WITH(hmt::wilson_interval(5, 4), Catch::Contains("5 successes of 4 trials"));
}
