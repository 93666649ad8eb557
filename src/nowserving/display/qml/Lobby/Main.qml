import QtQuick
import QtQuick.Layouts

// The lobby display. Everything it shows comes from the injected `lobby` controller
// (nowserving.display.app.DisplayController); it never waits on anything.
Rectangle {
    id: root
    required property var lobby
    readonly property real unit: Math.max(8, Math.min(width, height) / 36)
    readonly property bool portrait: lobby.portrait || height > width
    readonly property var langs: lobby.shownLanguages
    readonly property var s: lobby.strings
    readonly property var colors: lobby.theme === "light"
        ? { "bg": "#eef1f5", "panel": "#ffffff", "tile": "#e2e7ee", "text": "#0d1b2a",
            "dim": "#52606d", "accent": "#c0392b", "flash": "#e0a800", "spot": "#0d3b66",
            "spotBright": "#1d6fb8", "spotText": "#ffffff" }
        : { "bg": "#071423", "panel": "#0e2238", "tile": "#15304d", "text": "#ffffff",
            "dim": "#9fb3c8", "accent": "#ffc107", "flash": "#ffc107", "spot": "#123a63",
            "spotBright": "#2a78c8", "spotText": "#ffffff" }
    color: colors.bg

    // `key` of the display catalog in each shown language, joined
    function t(key) { return root.langs.map(l => root.s[l][key]).join("   ") }
    function inEach(texts) {  // each shown language's text, once (a notice may be in one)
        return [...new Set(root.langs.map(l => texts[l]))].join("   ")
    }

    // ----- header: logo, branch, clock; under it, when offline, a banner ---------------
    RowLayout {
        id: header
        anchors { top: parent.top; left: parent.left; right: parent.right; margins: root.unit }
        height: root.unit * 3
        spacing: root.unit
        Image {
            visible: root.lobby.logo !== ""
            source: root.lobby.logo
            fillMode: Image.PreserveAspectFit
            Layout.preferredHeight: header.height
            Layout.preferredWidth: header.height * 3
            sourceSize.height: header.height
        }
        Text {  // the branch's names: smaller type rather than cut short
            text: root.inEach(root.lobby.branchNames)
            color: root.colors.text
            font.pixelSize: root.unit * 1.6
            fontSizeMode: Text.HorizontalFit
            minimumPixelSize: root.unit * 0.8
            font.bold: true
            verticalAlignment: Text.AlignVCenter
            Layout.fillWidth: true
            Layout.fillHeight: true
        }
        Text {
            id: clock
            objectName: "clock"
            color: root.colors.text
            font.pixelSize: root.unit * 2
            font.bold: true
            text: root.lobby.clock.text  // the branch's time, not the device's
        }
    }
    Rectangle {
        id: offline
        objectName: "offlineMark"
        visible: !root.lobby.online
        anchors { top: header.bottom; left: parent.left; right: parent.right; margins: root.unit }
        anchors.topMargin: root.unit * 0.5
        height: visible ? root.unit * 2 : 0
        radius: root.unit * 0.4
        color: "#b3261e"
        Text {
            anchors.fill: parent
            anchors.margins: root.unit * 0.3
            text: root.t("offline")
            color: "#ffffff"
            font.pixelSize: root.unit * 1.0
            fontSizeMode: Text.HorizontalFit
            minimumPixelSize: root.unit * 0.6
            horizontalAlignment: Text.AlignHCenter
            verticalAlignment: Text.AlignVCenter
        }
    }

    // ----- body: the calls (spotlight + history) and the lines ----------------------
    GridLayout {
        id: body
        anchors {
            top: offline.visible ? offline.bottom : header.bottom; bottom: ticker.top
            left: parent.left; right: parent.right; margins: root.unit
        }
        columns: root.portrait ? 1 : 2
        rowSpacing: root.unit
        columnSpacing: root.unit

        ColumnLayout {
            Layout.fillWidth: true
            Layout.fillHeight: true
            Layout.preferredWidth: root.portrait ? body.width : body.width * 0.5
            Layout.preferredHeight: root.portrait ? body.height * 0.45 : body.height
            spacing: root.unit

            // The call in the spotlight: number and counter, as large as the screen allows.
            Rectangle {
                id: spot
                objectName: "spotlight"
                readonly property var call: root.lobby.spotlight
                readonly property bool flashing: root.lobby.highlighted
                Layout.fillWidth: true
                Layout.preferredHeight: root.portrait ? body.height * 0.25 : body.height * 0.55
                radius: root.unit * 0.6
                color: root.colors.spot
                border.color: root.colors.flash
                border.width: flashing ? root.unit * 0.4 : 0

                // A new call: the card flashes a few times, then stays marked while it
                // has the spotlight.
                SequentialAnimation {
                    id: flash
                    loops: 3
                    ColorAnimation { target: spot; property: "color"; to: root.colors.spotBright; duration: 250 }
                    ColorAnimation { target: spot; property: "color"; to: root.colors.spot; duration: 450 }
                }
                Connections {
                    target: root.lobby
                    function onSpotlightChanged() {
                        if (root.lobby.highlighted) flash.restart()
                    }
                }

                Text {
                    anchors { top: parent.top; left: parent.left; margins: root.unit }
                    text: spot.call.recall ? root.t("recall") : root.t("calling")
                    color: spot.call.recall ? root.colors.flash : root.colors.spotText
                    font.pixelSize: root.unit * 1.4
                    font.bold: spot.call.recall === true
                }
                GridLayout {
                    anchors.centerIn: parent
                    anchors.verticalCenterOffset: root.unit * 1.2
                    width: parent.width - root.unit * 2
                    columns: root.portrait ? 1 : 3
                    columnSpacing: root.unit * 1.5
                    rowSpacing: 0
                    visible: spot.call.number !== undefined
                    Text {
                        objectName: "spotNumber"
                        text: spot.call.number || ""
                        color: root.colors.spotText
                        font.pixelSize: Math.min(spot.height * (root.portrait ? 0.34 : 0.5),
                                                 spot.width * (root.portrait ? 0.3 : 0.16))
                        font.bold: true
                        Layout.alignment: Qt.AlignCenter
                    }
                    Text {
                        visible: !root.portrait
                        text: "→"
                        color: root.colors.flash
                        font.pixelSize: Math.min(spot.height * 0.3, spot.width * 0.08)
                    }
                    ColumnLayout {
                        Layout.fillWidth: !root.portrait
                        Layout.alignment: Qt.AlignCenter
                        spacing: 0
                        Repeater {
                            model: root.langs
                            Text {
                                required property var modelData
                                required property int index
                                objectName: "spotCounter"
                                text: spot.call.counter ? spot.call.counter[modelData] : ""
                                color: root.colors.spotText
                                font.pixelSize: Math.min(spot.height, spot.width * 0.5)
                                    * (index === 0 ? 0.2 : 0.13)
                                font.bold: index === 0
                                fontSizeMode: Text.HorizontalFit  // smaller, never cut short
                                minimumPixelSize: root.unit
                                horizontalAlignment: root.portrait ? Text.AlignHCenter : Text.AlignLeft
                                Layout.fillWidth: true
                            }
                        }
                    }
                }
                Text {
                    anchors.centerIn: parent
                    visible: spot.call.number === undefined
                    text: root.lobby.hasState ? root.t("no_calls") : ""
                    color: root.colors.dim
                    font.pixelSize: root.unit * 1.6
                }
            }

            Text {
                text: root.t("history")
                color: root.colors.dim
                font.pixelSize: root.unit * 1.1
                visible: root.lobby.historyModel.count > 0
            }
            // As many earlier calls as fit; the newest first.
            Item {
                id: historyArea
                Layout.fillWidth: true
                Layout.fillHeight: true
                readonly property real tileHeight: root.unit * 3.2
                Layout.minimumHeight: tileHeight  // portrait too keeps the recent calls
                readonly property real gap: root.unit * 0.5
                readonly property int fits: 2 * Math.max(0, Math.floor((height + gap) / (tileHeight + gap)))
                Grid {
                    width: parent.width
                    columns: 2
                    spacing: historyArea.gap
                    Repeater {
                        model: root.lobby.historyModel
                        CallTile {
                            required property int index
                            visible: index < historyArea.fits
                            languages: root.langs
                            unit: root.unit
                            colors: root.colors
                            width: (historyArea.width - historyArea.gap) / 2
                            height: historyArea.tileHeight
                        }
                    }
                }
            }
        }

        // Every service's line, as many as fit on a page; the pages take turns
        // (the controller's `linePage`), so no line is ever left out.
        ColumnLayout {
            id: linesColumn
            Layout.fillWidth: true
            Layout.fillHeight: true
            Layout.preferredWidth: root.portrait ? body.width : body.width * 0.5
            Layout.preferredHeight: root.portrait ? body.height * 0.55 : body.height
            spacing: root.unit * 0.4
            RowLayout {
                Layout.fillWidth: true
                Text {
                    text: root.t("waiting_title")
                    color: root.colors.dim
                    font.pixelSize: root.unit * 1.1
                    Layout.fillWidth: true
                }
                Text {
                    objectName: "linePage"
                    visible: linesArea.pages > 1
                    text: (linesArea.page + 1) + " / " + linesArea.pages
                    color: root.colors.text
                    font.pixelSize: root.unit * 1.1
                    font.bold: true
                }
            }
            Item {
                id: linesArea
                objectName: "lines"
                Layout.fillWidth: true
                Layout.fillHeight: true
                clip: true
                // Type: 3 % of the screen's shorter side at least (a landscape TV's height:
                // read from 5 m), larger when few lines leave room.
                readonly property real base: Math.max(Math.min(root.width, root.height) * 0.03,
                                                      root.unit * 1.1)
                readonly property int count: root.lobby.servicesModel.count
                readonly property real grow: count > 0
                    ? Math.min(1.5, Math.max(1, height / (count * base * (root.langs.length * 1.3 + 0.9))))
                    : 1
                readonly property real size: base * grow
                property var starts: [0]  // the y where each page begins
                readonly property int pages: starts.length
                readonly property int page: Math.min(root.lobby.linePage, pages - 1)
                function paginate() {
                    const starts = [0]
                    for (let i = 0; i < rows.count; i++) {
                        const row = rows.itemAt(i)
                        const top = starts[starts.length - 1]
                        if (row && row.y > top && row.y + row.height - top > height + 0.5)
                            starts.push(row.y)
                    }
                    if (JSON.stringify(starts) !== JSON.stringify(linesArea.starts))
                        linesArea.starts = starts
                    root.lobby.setLinePages(starts.length)
                }
                onHeightChanged: Qt.callLater(paginate)
                Column {
                    id: lineColumn
                    width: parent.width
                    y: -linesArea.starts[linesArea.page]
                    spacing: root.unit * 0.4
                    onHeightChanged: Qt.callLater(linesArea.paginate)
                    Repeater {
                        id: rows
                        model: root.lobby.servicesModel
                        onCountChanged: Qt.callLater(linesArea.paginate)
                        ServiceLine {
                            width: lineColumn.width
                            // Only lines wholly on this page are drawn.
                            readonly property real pageTop: y - linesArea.starts[linesArea.page]
                            opacity: pageTop >= -0.5 && pageTop + height <= linesArea.height + 0.5 ? 1 : 0
                            languages: root.langs
                            strings: root.s
                            unit: root.unit
                            size: linesArea.size
                            colors: root.colors
                        }
                    }
                }
            }
            // The hall code (remote tickets, docs/appointments.md): a phone that joined
            // online scans it to check in; it changes every few minutes.
            Rectangle {
                id: hallPanel
                objectName: "hallPanel"
                readonly property real side: height - root.unit
                visible: root.lobby.hallCode !== ""
                Layout.fillWidth: true
                Layout.preferredHeight: root.unit * 8
                radius: root.unit * 0.6
                color: root.colors.panel
                Image {
                    id: hallQr
                    objectName: "hallQr"
                    anchors { left: parent.left; verticalCenter: parent.verticalCenter
                              leftMargin: root.unit * 0.5 }
                    width: hallPanel.side
                    height: hallPanel.side
                    source: hallPanel.visible ? "image://hall/" + root.lobby.hallCode : ""
                    sourceSize { width: hallPanel.side; height: hallPanel.side }
                    fillMode: Image.Pad  // whole modules, as drawn: never resampled
                    smooth: false
                    cache: false
                }
                Column {
                    anchors { left: hallQr.right; right: parent.right; verticalCenter: parent.verticalCenter
                              leftMargin: root.unit; rightMargin: root.unit * 0.5 }
                    spacing: root.unit * 0.2
                    Repeater {
                        model: root.langs
                        Text {
                            required property var modelData
                            required property int index
                            objectName: "hallTitle"
                            width: parent.width
                            text: root.s[modelData].hall_title
                            color: root.colors.text
                            font.pixelSize: root.unit * (index === 0 ? 1.4 : 1.15)
                            font.bold: index === 0
                            fontSizeMode: Text.HorizontalFit  // smaller, never cut short
                            minimumPixelSize: root.unit * 0.6
                        }
                    }
                    Text {
                        objectName: "hallLetters"
                        width: parent.width
                        text: root.lobby.hallLetters
                        color: root.colors.accent
                        font.pixelSize: root.unit * 2.2
                        font.bold: true
                        font.family: "monospace"
                        fontSizeMode: Text.HorizontalFit
                        minimumPixelSize: root.unit
                    }
                }
            }
            // Pictures from the media folder; a call in the spotlight takes their place.
            Image {
                objectName: "media"
                visible: root.lobby.media !== "" && !root.lobby.highlighted
                source: root.lobby.media
                fillMode: Image.PreserveAspectFit
                asynchronous: true
                Layout.fillWidth: true
                Layout.preferredHeight: linesColumn.height * 0.35
            }
        }
    }

    // ----- ticker: staff's notices and paused counters --------------------------------
    Rectangle {
        id: ticker
        anchors { bottom: parent.bottom; left: parent.left; right: parent.right }
        height: root.unit * 2.6
        color: root.colors.panel
        clip: true
        visible: tickerText.text !== ""
        Text {
            id: tickerText
            objectName: "ticker"
            y: (parent.height - height) / 2
            text: root.lobby.notices.map(n => root.inEach(n)).join("      ◆      ")
            color: root.colors.text
            font.pixelSize: root.unit * 1.2
            // Short texts stand still; long ones scroll, right to left, again and again.
            readonly property bool scrolls: implicitWidth > ticker.width - root.unit * 2
            x: root.unit
            SequentialAnimation on x {
                running: tickerText.scrolls
                PauseAnimation { duration: 3000 }
                NumberAnimation {
                    from: root.unit; to: -tickerText.implicitWidth
                    duration: (tickerText.implicitWidth + root.unit) / root.unit * 250
                }
                NumberAnimation {
                    from: ticker.width; to: -tickerText.implicitWidth
                    loops: Animation.Infinite
                    duration: (ticker.width + tickerText.implicitWidth) / root.unit * 250
                }
            }
        }
    }
}
