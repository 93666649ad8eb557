import QtQuick

// The screen above one counter. Everything it shows comes from the injected controller
// (nowserving.display.counter_screen.CounterScreen); it never waits on anything. Wide
// screens (a bar, 1280x400) put the counter's name left and the number right; others
// (800x480) put the name on top.
Rectangle {
    id: root
    required property var counterScreen
    readonly property var cs: counterScreen
    readonly property bool wide: width >= height * 2
    readonly property real pad: Math.round(Math.min(width, height) * 0.035)
    readonly property bool calling: cs.mode === "calling"
    readonly property bool hasNumber: cs.number !== ""
    // Every language side by side, unless set to alternate or a text cannot hold them all.
    readonly property bool fitsAll: nameLines.fitsSideBySide && headlineLines.fitsSideBySide
                                    && captionLines.fitsSideBySide
    readonly property bool alternating: cs.languages.length > 1 && (cs.alternate || !fitsAll)
    readonly property var langs: alternating ? [cs.languages[cs.languageIndex % cs.languages.length]]
                                             : cs.languages
    readonly property var colors: cs.theme === "light"
        ? { "bg": "#eef1f5", "panel": "#ffffff", "text": "#0d1b2a", "dim": "#3c4a57",
            "accent": "#7a4f00", "closed": "#a11b12", "flash": "#ffe08a", "frame": "#c98a00" }
        : { "bg": "#071423", "panel": "#0e2238", "text": "#ffffff", "dim": "#c3d0de",
            "accent": "#ffc107", "closed": "#ff9e8f", "flash": "#1d5fa8", "frame": "#ffc107" }
    color: colors.bg

    function inEach(key) { return root.langs.map(l => root.cs.strings[l][key]).join(" / ") }

    // ----- the counter's name, the clock and the offline mark ----------------------------
    Item {
        id: nameBox
        x: root.pad
        y: root.pad
        width: root.wide ? root.width * 0.36 - root.pad * 1.5 : root.width - root.pad * 3 - status.width
        height: root.wide ? root.height - root.pad * 3 - status.height : root.height * 0.26
        Lines {
            id: nameLines
            anchors.fill: parent
            name: "counterName"
            texts: root.cs.counterNames
            langs: root.langs
            allLangs: root.cs.languages
            color: root.colors.text
            secondColor: root.colors.dim
            align: root.wide ? Text.AlignLeft : Text.AlignLeft
        }
    }
    Item {
        id: status
        width: root.wide ? root.width * 0.36 - root.pad * 1.5
                         : Math.max(clock.implicitWidth, offlineMark.width)
        height: clock.height + (offlineMark.visible ? offlineMark.height + root.pad * 0.3 : 0)
        x: root.wide ? root.pad : root.width - root.pad - width
        y: root.wide ? root.height - root.pad - height : root.pad
        Text {
            id: clock
            objectName: "clock"
            anchors.right: root.wide ? undefined : parent.right
            text: root.cs.clock.text  // the branch's time, not the device's
            color: root.colors.dim
            font.pixelSize: Math.round(Math.min(root.width, root.height) * (root.wide ? 0.09 : 0.075))
            font.bold: true
        }
        Rectangle {
            id: offlineMark
            objectName: "offlineMark"
            visible: !root.cs.online
            anchors.right: root.wide ? undefined : parent.right
            x: root.wide ? clock.implicitWidth + root.pad : 0
            y: root.wide ? (clock.height - height) / 2 : clock.height + root.pad * 0.3
            color: "#b3261e"
            radius: height / 2
            height: offlineText.implicitHeight * 1.4
            width: offlineText.implicitWidth + height
            Text {
                id: offlineText
                anchors.centerIn: parent
                text: root.inEach("offline")
                color: "#ffffff"
                font.pixelSize: clock.font.pixelSize * 0.55
                font.bold: true
            }
        }
    }

    // ----- the number called or served, or what the counter does instead ---------------
    Rectangle {
        id: mainBox
        objectName: "mainBox"
        x: root.wide ? root.width * 0.36 + root.pad * 0.5 : root.pad
        y: root.wide ? root.pad : nameBox.y + nameBox.height + root.pad
        width: root.wide ? root.width - x - root.pad : root.width - root.pad * 2
        height: root.height - y - root.pad
        radius: root.pad * 0.6
        color: root.colors.panel
        border.color: root.colors.frame
        border.width: root.calling ? root.pad * 0.35 : 0

        // A new call or a recall: the panel flashes a few times, then keeps its frame
        // while the customer is called.
        SequentialAnimation {
            id: flash
            loops: 4
            ColorAnimation { target: mainBox; property: "color"; to: root.colors.flash; duration: 250 }
            ColorAnimation { target: mainBox; property: "color"; to: root.colors.panel; duration: 450 }
        }
        Connections {
            target: root.cs
            function onCalled() { flash.restart() }
        }

        Item {
            id: big
            anchors { left: parent.left; right: parent.right; top: parent.top; margins: root.pad }
            height: (mainBox.height - root.pad * 2) * 0.68
            Text {
                objectName: "number"
                anchors.fill: parent
                visible: root.hasNumber
                text: root.cs.number
                color: root.calling ? root.colors.accent : root.colors.text
                font.bold: true
                font.pixelSize: Math.max(1, height * 0.95)
                minimumPixelSize: 8
                fontSizeMode: Text.Fit
                horizontalAlignment: Text.AlignHCenter
                verticalAlignment: Text.AlignVCenter
            }
            Lines {
                id: headlineLines
                anchors.fill: parent
                visible: !root.hasNumber
                name: "headline"
                texts: root.cs.headline
                langs: root.langs
                allLangs: root.cs.languages
                fill: 0.78
                color: root.cs.mode === "paused" ? root.colors.accent
                     : root.cs.mode === "closed" || root.cs.mode === "unknown" ? root.colors.closed
                     : root.colors.text
                secondColor: color
            }
        }
        Lines {
            id: captionLines
            anchors {
                left: parent.left; right: parent.right; top: big.bottom; bottom: parent.bottom
                leftMargin: root.pad; rightMargin: root.pad; bottomMargin: root.pad * 0.6
            }
            name: "caption"
            texts: root.cs.caption
            langs: root.langs
            allLangs: root.cs.languages
            firstShare: 0.55
            color: root.calling ? root.colors.accent : root.colors.text
            secondColor: root.calling ? root.colors.accent : root.colors.dim
        }
    }
}
