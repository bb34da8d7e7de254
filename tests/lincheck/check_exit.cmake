# Runs CMD (arguments separated by |) and checks its exit status is EXPECT and, when given,
# that its output matches REGEX. ctest's WILL_FAIL cannot tell exit 1 (not
# linearizable) from exit 3 (bad input).
string(REPLACE "|" ";" CMD "${CMD}")
execute_process(COMMAND ${CMD} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}${err}")
if(NOT rc STREQUAL EXPECT)
  message(FATAL_ERROR "exit status ${rc}, expected ${EXPECT}")
endif()
if(DEFINED REGEX AND NOT out MATCHES "${REGEX}")
  message(FATAL_ERROR "output does not match ${REGEX}")
endif()
