set terminal pngcairo size 1400,560 font "sans,10"
set logscale x 2
set grid
set key outside right top
set xlabel "concurrency N"
set output "/work/main/bench/results-py/rps.png"
set multiplot layout 1,2
set logscale y
set ylabel "requests/s"
set title "tiny responses: requests/s"
plot "/work/main/bench/results-py/plotdata/tiny-rps-fetchpool-threads.dat" using 1:2 with linespoints lw 2 pt 1 title "fetchpool-threads", \
  "/work/main/bench/results-py/plotdata/tiny-rps-py-threads.dat" using 1:2 with linespoints lw 2 pt 2 title "py-threads", \
  "/work/main/bench/results-py/plotdata/tiny-rps-py-aiohttp.dat" using 1:2 with linespoints lw 2 pt 3 title "py-aiohttp", \
  "/work/main/bench/results-py/plotdata/tiny-rps-py-fetchpool-submit.dat" using 1:2 with linespoints lw 2 pt 4 title "py-fetchpool-submit", \
  "/work/main/bench/results-py/plotdata/tiny-rps-py-fetchpool-all.dat" using 1:2 with linespoints lw 2 pt 5 title "py-fetchpool-all", \
  "/work/main/bench/results-py/plotdata/tiny-rps-py-fetchpool-async.dat" using 1:2 with linespoints lw 2 pt 6 title "py-fetchpool-async"
set title "100 KiB bodies: requests/s"
set label 99 "not measured in this run" at graph 0.5, graph 0.5 center
unset key
plot [1:2048] [1:10] 1/0 notitle
unset label 99
set key outside right top
unset multiplot
set output "/work/main/bench/results-py/wall_ideal.png"
set multiplot layout 1,2
set logscale y
set ylabel "wall / ideal (1 = ideal)"
set title "100 ms per request: wall / ceil(R/N) x 0.1 s"
plot "/work/main/bench/results-py/plotdata/100ms-wall_over_ideal-fetchpool-threads.dat" using 1:2 with linespoints lw 2 pt 1 title "fetchpool-threads", \
  "/work/main/bench/results-py/plotdata/100ms-wall_over_ideal-py-threads.dat" using 1:2 with linespoints lw 2 pt 2 title "py-threads", \
  "/work/main/bench/results-py/plotdata/100ms-wall_over_ideal-py-aiohttp.dat" using 1:2 with linespoints lw 2 pt 3 title "py-aiohttp", \
  "/work/main/bench/results-py/plotdata/100ms-wall_over_ideal-py-fetchpool-submit.dat" using 1:2 with linespoints lw 2 pt 4 title "py-fetchpool-submit", \
  "/work/main/bench/results-py/plotdata/100ms-wall_over_ideal-py-fetchpool-all.dat" using 1:2 with linespoints lw 2 pt 5 title "py-fetchpool-all", \
  "/work/main/bench/results-py/plotdata/100ms-wall_over_ideal-py-fetchpool-async.dat" using 1:2 with linespoints lw 2 pt 6 title "py-fetchpool-async", \
  1 with lines lc rgb 'black' dt 2 title 'ideal'
set title "mixed 10 ms..1 s: wall / ideal pool wall"
plot 1 with lines lc rgb 'black' dt 2 title 'ideal'
unset multiplot
set terminal pngcairo size 1000,560 font "sans,10"
set key inside left top
set output "/work/main/bench/results-py/rss.png"
set logscale y
set ylabel "peak RSS MiB"
set title "peak RSS vs concurrency (100 ms workload; xargs-curl: largest process)"
plot "/work/main/bench/results-py/plotdata/100ms-rss_kb-fetchpool-threads.dat" using 1:2 with linespoints lw 2 pt 1 title "fetchpool-threads", \
  "/work/main/bench/results-py/plotdata/100ms-rss_kb-py-threads.dat" using 1:2 with linespoints lw 2 pt 2 title "py-threads", \
  "/work/main/bench/results-py/plotdata/100ms-rss_kb-py-aiohttp.dat" using 1:2 with linespoints lw 2 pt 3 title "py-aiohttp", \
  "/work/main/bench/results-py/plotdata/100ms-rss_kb-py-fetchpool-submit.dat" using 1:2 with linespoints lw 2 pt 4 title "py-fetchpool-submit", \
  "/work/main/bench/results-py/plotdata/100ms-rss_kb-py-fetchpool-all.dat" using 1:2 with linespoints lw 2 pt 5 title "py-fetchpool-all", \
  "/work/main/bench/results-py/plotdata/100ms-rss_kb-py-fetchpool-async.dat" using 1:2 with linespoints lw 2 pt 6 title "py-fetchpool-async"
set output "/work/main/bench/results-py/cpu.png"
set logscale y
set ylabel "client CPU us per request"
set title "tiny responses: client CPU (user+sys) per request"
plot "/work/main/bench/results-py/plotdata/tiny-cpu_us_per_req-fetchpool-threads.dat" using 1:2 with linespoints lw 2 pt 1 title "fetchpool-threads", \
  "/work/main/bench/results-py/plotdata/tiny-cpu_us_per_req-py-threads.dat" using 1:2 with linespoints lw 2 pt 2 title "py-threads", \
  "/work/main/bench/results-py/plotdata/tiny-cpu_us_per_req-py-aiohttp.dat" using 1:2 with linespoints lw 2 pt 3 title "py-aiohttp", \
  "/work/main/bench/results-py/plotdata/tiny-cpu_us_per_req-py-fetchpool-submit.dat" using 1:2 with linespoints lw 2 pt 4 title "py-fetchpool-submit", \
  "/work/main/bench/results-py/plotdata/tiny-cpu_us_per_req-py-fetchpool-all.dat" using 1:2 with linespoints lw 2 pt 5 title "py-fetchpool-all", \
  "/work/main/bench/results-py/plotdata/tiny-cpu_us_per_req-py-fetchpool-async.dat" using 1:2 with linespoints lw 2 pt 6 title "py-fetchpool-async"
unset output
