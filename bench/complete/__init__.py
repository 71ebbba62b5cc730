"""One complete benchmark run: levers, side by side, scale-out, growth, profile
(issue 15). See bench/complete/__main__.py."""
