# cmake -DBIN=FILE -P pure_links.cmake: fails when FILE, a test program linked
# against the pure targets only (policy/, tunnel/conf), needs a library of the
# tunnel's or the gateway's side: libmnl, libcrypto, libssl, libnftables,
# libnetfilter_conntrack. FILE is linked with --no-as-needed, so every library
# on its link line is in DT_NEEDED whether or not a symbol of it is used;
# libyaml must be there, or the check would be blind.
find_program(READELF readelf REQUIRED)
execute_process(COMMAND ${READELF} -d ${BIN} OUTPUT_VARIABLE dyn RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
	message(FATAL_ERROR "readelf -d ${BIN} failed")
endif()
string(REGEX MATCHALL "\\(NEEDED\\)[^\n]*\\[[^]\n]*\\]" needed "${dyn}")
set(libs "")
foreach(line ${needed})
	string(REGEX REPLACE ".*\\[(.*)\\]" "\\1" lib "${line}")
	list(APPEND libs ${lib})
endforeach()
message(STATUS "${BIN} needs: ${libs}")
if(NOT libs MATCHES "libyaml")
	message(FATAL_ERROR "libyaml is not among the libraries ${BIN} needs: the check cannot see its link line")
endif()
foreach(lib ${libs})
	if(lib MATCHES "^lib(mnl|crypto|ssl|nftables|netfilter_conntrack|nfnetlink)\\.")
		message(FATAL_ERROR "${BIN} needs ${lib}: policy/ and tunnel/conf must link libyaml only")
	endif()
endforeach()
