# scaling.gp - draws bench/scaling.sh's scaling.csv to PNG: delivered
# messages per second against the broker's worker count, with the line a
# perfectly linear broker would follow from the first point.
#
#   gnuplot -e "csv='scaling.csv'; png='scaling.png'; title='wsbroker fanout'" bench/scaling.gp
#
# The CSV's columns: workers, delivered_per_s, linear_per_s, speedup, p99_ms,
# broker_cpu_s.
if (!exists("csv")) { print "scaling.gp: set csv='FILE.csv' with -e"; exit status 2 }
if (!exists("png")) { png = csv . ".png" }
if (!exists("title")) { title = csv }
set terminal pngcairo size 900,600 noenhanced
set output png
set datafile separator ","
set title title
set key top left
set grid
set xlabel "broker workers (--workers)"
set ylabel "delivered messages/s"
set format y "%.0s%c"
set xrange [0:*]
set xtics 1
set yrange [0:*]
plot csv using 1:2 skip 1 with linespoints lw 2 pt 7 title "measured (median)", \
     csv using 1:3 skip 1 with lines dt 2 title "linear from the first point"
