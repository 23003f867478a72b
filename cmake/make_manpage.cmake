cmake_minimum_required(VERSION 3.22)
# Writes the gemmtune(1) man page from the CLI's own help, so that the help
# text stays the one description of the commands:
#   cmake -DCLI=path/to/gemmtune -DVERSION=0.1.0 -DOUT=gemmtune.1 -P make_manpage.cmake
# writes OUT.gz (compressed, as Debian installs man pages; man reads both).
# NAME comes from the first line of `gemmtune --help`, SYNOPSIS from its
# usage lines, DESCRIPTION from the rest, and one COMMANDS subsection per
# command from `gemmtune help COMMAND`. The help text is laid out in columns,
# so it is kept as preformatted (.nf) text.

function(run_cli out_var)
  execute_process(COMMAND "${CLI}" ${ARGN} OUTPUT_VARIABLE text ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "make_manpage: `gemmtune ${ARGN}` exited ${rc}: ${err}")
  endif()
  set(${out_var} "${text}" PARENT_SCOPE)
endfunction()

# roff: a backslash is \e, every '-' is \- (else groff prints a Unicode
# hyphen that cannot be pasted into a shell), and a line starting with '.'
# or '\'' would be a request, so it gets a zero-width \& first.
function(roff out_var text)
  string(REPLACE "\\" "\\e" text "${text}")
  string(REPLACE "-" "\\-" text "${text}")
  string(REGEX REPLACE "(^|\n)([.'])" "\\1\\\\&\\2" text "${text}")
  set(${out_var} "${text}" PARENT_SCOPE)
endfunction()

run_cli(help --help)
string(REGEX MATCH "^[^\n]*" first_line "${help}")
string(REGEX REPLACE "^gemmtune: *" "" summary "${first_line}")
string(LENGTH "${first_line}" skip)
string(SUBSTRING "${help}" ${skip} -1 body)
string(STRIP "${body}" body)

# Usage lines: "  gemmtune COMMAND ..." directly under "usage:".
string(REGEX MATCH "usage:\n(  gemmtune[^\n]*\n)+" usage_block "${body}")
string(REPLACE "${usage_block}" "" description "${body}")
string(REGEX REPLACE "^usage:\n" "" usage_block "${usage_block}")
string(REGEX REPLACE "(^|\n)  " "\\1" usage_block "${usage_block}")
string(REGEX MATCHALL "gemmtune [a-z_]+" invocations "${usage_block}")
set(commands "")
foreach(invocation IN LISTS invocations)
  string(REPLACE "gemmtune " "" command "${invocation}")
  if(NOT command STREQUAL "help" AND NOT command IN_LIST commands)
    list(APPEND commands ${command})
  endif()
endforeach()
if(NOT commands)
  message(FATAL_ERROR "make_manpage: no usage lines found in `gemmtune --help`")
endif()

roff(summary "${summary}")
roff(usage_block "${usage_block}")
string(STRIP "${description}" description)
roff(description "${description}")

set(page ".TH GEMMTUNE 1 \"\" \"gemmtune ${VERSION}\" \"User Commands\"
.SH NAME
gemmtune \\- ${summary}
.SH SYNOPSIS
.nf
${usage_block}.fi
.SH DESCRIPTION
gemmtune measures every kernel (choice) that the enabled backends offer for a
matrix multiplication, verifies each result against an exact reference, and
picks the fastest verified one. It never picks a backend that was not
enabled unless fallback to the library backend is turned on, and then says
so. Results are kept in a SQLite database, so an identical request later
costs nothing.
.PP
.nf
${description}
.fi
.SH COMMANDS
")
foreach(command IN LISTS commands)
  run_cli(text help ${command})
  string(STRIP "${text}" text)
  roff(text "${text}")
  string(APPEND page ".SS ${command}\n.nf\n${text}\n.fi\n")
endforeach()
string(APPEND page ".SH FILES
.TP
.I ~/.cache/gemmtune/tuning.db
The results database (\\fB$GEMMTUNE_CACHE_DIR/tuning.db\\fR when set, else
\\fB$XDG_CACHE_HOME/gemmtune/tuning.db\\fR when that is an absolute path).
.SH SEE ALSO
The README in the documentation folder of the installation
(/usr/share/doc/gemmtune/README.md from the Debian package).
")
file(WRITE "${OUT}" "${page}")
# -n: no name or time stamp inside, so that the same help gives the same file.
execute_process(COMMAND gzip -9nf "${OUT}" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "make_manpage: gzip ${OUT} failed")
endif()
