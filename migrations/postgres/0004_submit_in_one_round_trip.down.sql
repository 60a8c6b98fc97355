DROP FUNCTION IF EXISTS timewarp_submit(text, text, text, text, text, text, text, text, text,
    text, text, date, text, text, text, text, text);
