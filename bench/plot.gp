# plot.gp - draws a wsbroker-bench --csv time series to PNG: received per
# second on top (pub/sub: deliveries; echo: echoes; storm: handshakes), with
# what was sent per interval (publishes, messages, connects), latency
# percentiles (log scale) below. Every scenario writes the same columns.
#
#   gnuplot -e "csv='run.csv'; png='run.png'; title='fanout 1 -> 1000'" bench/plot.gp
#
# The CSV's columns: t_s, phase, sent, received, received_per_s, mb_per_s,
# p50_us, p90_us, p99_us, p99_9_us, p99_99_us, max_us (bench/wsbroker-bench/series.c).
if (!exists("csv")) { print "plot.gp: set csv='FILE.csv' with -e"; exit status 2 }
if (!exists("png")) { png = csv . ".png" }
if (!exists("title")) { title = csv }
set terminal pngcairo size 1000,700 noenhanced
set output png
set datafile separator ","
set key outside right
set grid
set multiplot layout 2,1 title title
set ylabel "received/s"
set format y "%.0s%c"
plot csv using 1:5 skip 1 with linespoints title "received/s", \
     csv using 1:3 skip 1 with lines title "sent/interval"
set ylabel "latency (us)"
set xlabel "seconds since the first send"
set logscale y
set format y "%g"
plot csv using 1:($7 > 0 ? $7 : NaN) skip 1 with lines title "p50", \
     csv using 1:($9 > 0 ? $9 : NaN) skip 1 with lines title "p99", \
     csv using 1:($10 > 0 ? $10 : NaN) skip 1 with lines title "p99.9", \
     csv using 1:($11 > 0 ? $11 : NaN) skip 1 with lines title "p99.99", \
     csv using 1:($12 > 0 ? $12 : NaN) skip 1 with lines title "max"
unset multiplot
