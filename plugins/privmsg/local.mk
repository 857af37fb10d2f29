# plugins/privmsg: see plugins/privmsg/privmsg.c
