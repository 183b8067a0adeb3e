/** USER_HZ: Linux reports process times in these ticks (100 on every mainstream build). */
const CLOCK_TICKS = 100;

/**
 * utime + stime of a Linux `/proc/<pid>/stat` or `/proc/<pid>/task/<tid>/stat` line, in seconds
 * (the fields after the command name, which may hold spaces).
 */
export function statCpuSeconds(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}
