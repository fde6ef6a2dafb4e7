# Whole-project checks that are not C programs: public headers compile alone, the installed
# library works from an out-of-tree project, and the README's code is the examples' code.
add_test(NAME project/headers
         COMMAND ${PROJECT_SOURCE_DIR}/scripts/check-headers.sh ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
add_test(NAME project/readme
         COMMAND ${PROJECT_SOURCE_DIR}/scripts/check-readme.sh ${PROJECT_SOURCE_DIR})
set_tests_properties(project/headers project/readme PROPERTIES LABELS project TIMEOUT 120)
if(CIO_SANITIZE STREQUAL "")
    # Installing needs every target built; the sanitizer builds skip it (same files).
    add_test(NAME project/install
             COMMAND ${PROJECT_SOURCE_DIR}/scripts/check-install.sh ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
    set_tests_properties(project/install PROPERTIES LABELS project TIMEOUT 300)
endif()

# Examples that finish by themselves run as tests too.
foreach(example poll_echo readme_poll readme_echo readme_timeout readme_lines readme_cancel
        readme_serve readme_serve_lines readme_metrics readme_select)
    if(TARGET ${example})
        add_test(NAME examples/${example} COMMAND ${example})
        set_tests_properties(examples/${example} PROPERTIES LABELS examples TIMEOUT 60)
    endif()
endforeach()

# The tools' tests run the built programs: build those first.
foreach(pair "tools_test_tools;cio-echo;cio-http-hello;cio-relay" "tools_test_cio_load;cio-load")
    list(POP_FRONT pair test_target)
    if(TARGET ${test_target})
        foreach(tool ${pair})
            if(TARGET ${tool})
                add_dependencies(${test_target} ${tool})
            endif()
        endforeach()
    endif()
endforeach()

# The man pages: one per exported function, generated without warnings, clean under groff and
# man -l. Not in the sanitizer builds: the pages are the same.
if(CIO_BUILD_MAN AND CIO_SANITIZE STREQUAL "")
    foreach(check pages lint)
        add_test(NAME docs/man_${check}
                 COMMAND ${PROJECT_SOURCE_DIR}/tests/docs/check-man.sh ${check}
                         ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
        set_tests_properties(docs/man_${check} PROPERTIES
            LABELS docs TIMEOUT 300 SKIP_RETURN_CODE 77)
    endforeach()
endif()
