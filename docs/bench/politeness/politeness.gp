set terminal pngcairo size 1000,560
set output "/work/main/bench/results-politeness/politeness.png"
set datafile separator ","
set key outside right top
set xlabel "seconds from the start"
set ylabel "in-flight limit, capacity"
set y2label "jobs ok per second"
set ytics nomirror
set y2tics
set yrange [0:*]
set y2range [0:*]
set title "Target 6: capacity 32, 8 from 3 s, 32 from 6 s (shedding)"
plot "t6-capacity.csv" using 1:2 with steps lw 3 lc rgb "black" title "capacity" axes x1y1, "t6.csv" using 1:4 with lines title "ok/s -t 8" axes x1y2, "t6.csv" using 1:6 with lines title "ok/s -t 32" axes x1y2, "t6.csv" using 1:9 with lines title "ok/s -t auto" axes x1y2, "t6.csv" using 1:16 with linespoints title "limit -t auto" axes x1y1
