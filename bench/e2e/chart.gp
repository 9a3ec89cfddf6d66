# SPDX-License-Identifier: GPL-2.0
# bench/e2e/report.py's chart: gnuplot -e "dat='X.dat'; png='X.png'" chart.gp
# Columns of dat: label, then stock and vhost=on for: wall time (s), time in
# the device from kick to used-ring update (ms, summed over the requests),
# requests run by QEMU threads, median kick to used-ring update (us).
set terminal pngcairo size 1200,800 font ",10"
set output png
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set key top left
set grid ytics
set xzeroaxis
set yrange [0:*]
set offsets 0, 0, graph 0.08, 0
set xtics noenhanced
set multiplot layout 2,2 title "resizing a nested guest: QEMU's own virtio-mem (stock) and vhost=on"
set title "wall time until the guest has the new size (s)"
plot dat using 2:xtic(1) title "stock" lc rgb "#d95f02", '' using 3 title "vhost=on" lc rgb "#1b9e77"
set title "time in the device, kick to used-ring update, all requests (ms)"
plot dat using 4:xtic(1) title "stock" lc rgb "#d95f02", '' using 5 title "vhost=on" lc rgb "#1b9e77"
set title "requests run by QEMU threads (QEMU's trace)"
plot dat using 6:xtic(1) title "stock" lc rgb "#d95f02", '' using 7 title "vhost=on" lc rgb "#1b9e77"
set title "one request, kick to used-ring update, median (µs)"
plot dat using 8:xtic(1) title "stock" lc rgb "#d95f02", '' using 9 title "vhost=on" lc rgb "#1b9e77"
unset multiplot
